"""Issue 3's goals, measured in one run on this machine (prints; asserts nothing).

For the ESPCN layer and the paper's sweep: each method's best latency over the deconvolution
algorithms, the compilation presets and the layouts (NCHW, NHWC), its multiple of the roofline floor (the calibrated
model's time for that workload), and its ratio to PyTorch eager on the same layer and thread count
(the trained layer for C-*, conv_transpose2d + bias for D-*), in whichever memory format, NCHW or
channels_last, is faster for eager on that layer and method. The best module (the fastest of the
sweep) and eager are then timed again in alternation, 5 rounds, and the table shows the medians of
those rounds, so that load drifting on a shared machine hits both sides. Both sides run with the
same C allocator policy (--malloc, suite/malloc.py): by default 'retain', the steady state, since with
glibc as it comes the page faults of each call's fresh buffers dominate large layers for IREE and
PyTorch alike. Then the goals:
  - the best deconvolution of each layer within 2x of its floor;
  - C-SP, C-NN and the best D-SP / D-NN no slower than PyTorch eager.

Usage: python bench/speed.py [--layers espcn,sweep-r2,...] [--presets default,channels-last,ukernels,channels-last+wide-vectors]
                             [--layouts nchw,nhwc,nhwc-blocked] [--malloc retain|system]
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
from pathlib import Path

import torch
import torch.utils.benchmark as tb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.build import build_module                          # noqa: E402
from suite.cache import CompileCache                          # noqa: E402
from targets.iree_run import benchmark_module                   # noqa: E402
from suite.malloc import POLICIES, in_effect, malloc_env       # noqa: E402
from suite.calibrate import load_or_calibrate                  # noqa: E402
from suite.selection import resolve_layers              # noqa: E402
from suite.model import estimate                               # noqa: E402
from workloads.counts import counts                            # noqa: E402
from suite.runner import Runner, RunOptions                    # noqa: E402
from targets import get_target                                 # noqa: E402
from targets.collectors.iree_static import describe_lowering   # noqa: E402
from workloads.algorithms import ALGORITHMS                    # noqa: E402
from workloads.methods import deployed_deconv, make_input, trained_layer   # noqa: E402
from workloads.workload import expand                          # noqa: E402


ROUNDS = 5


def eager_ms(module, x, threads: int, min_run_time: float = 0.5) -> float:
    with torch.no_grad():
        return tb.Timer("m(x)", globals={"m": module, "x": x}, num_threads=threads).blocked_autorange(
            min_run_time=min_run_time).median * 1e3


def fastest_eager(module, x, threads: int) -> tuple[str, object, torch.Tensor]:
    """(memory format, module, input) of eager's faster memory format on this layer: PyTorch at its
    best, not at its default (channels_last takes oneDNN's NHWC kernels on CPU)."""
    cl = torch.channels_last
    candidates = [("nchw", module, x),
                  ("cl", copy.deepcopy(module).to(memory_format=cl), x.contiguous(memory_format=cl))]
    return min(candidates, key=lambda c: eager_ms(c[1], c[2], threads, min_run_time=0.3))


def alternated(vmfb: Path, x_path: Path, runtime_flags: list[str], env: dict, eager, x,
               threads: int) -> tuple[float, float]:
    """(IREE ms, eager ms): the two timed in alternation, ROUNDS rounds, median of the rounds' medians.
    Timed minutes apart, the two would see different load on a shared machine (eager ESPCN C-SP has
    measured 13 and 23 ms in different runs here); alternating puts the same drift on both."""
    iree, ref = [], []
    for _ in range(ROUNDS):
        iree.append(statistics.median(benchmark_module(vmfb, x_path, runtime_flags, 3, 0.1, 0.05, 600,
                                                       env).samples_ms))
        ref.append(eager_ms(eager, x, threads, min_run_time=0.2))
    return statistics.median(iree), statistics.median(ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="espcn,sweep-r2,sweep-r3,sweep-r4")
    ap.add_argument("--presets", default="default,channels-last,ukernels,channels-last+wide-vectors")
    ap.add_argument("--layouts", default="nchw,nhwc,nhwc-blocked")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--malloc", choices=tuple(POLICIES), default="retain",
                    help="C allocator policy of IREE's timed process and of this one (eager) (default: retain)")
    args = ap.parse_args()
    if not in_effect(args.malloc):             # glibc reads its tunables at start-up: run again under them
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **malloc_env(args.malloc)})
    target, cache = get_target("llvm-cpu"), CompileCache()
    profile, _, _ = load_or_calibrate(Path("results/profiles"), target, "local-task", args.threads, cache)
    presets = tuple(args.presets.split(","))
    # iree-static keeps each module's lowering choices (pipeline, tile sizes) to explain the misses
    runner = Runner(RunOptions(target, "local-task", threads=args.threads, presets=presets,
                               collectors=("iree-static",), malloc=args.malloc), cache)
    layouts = args.layouts.split(",")
    print(f"llvm-cpu local-task, {args.threads} threads, malloc {args.malloc} (IREE and eager); presets {', '.join(presets)}; layouts {', '.join(layouts)}; "
          f"eager = torch, the faster of NCHW and channels_last (cl) per layer and method; floor = calibrated model "
          f"({profile.peak_flops / 1e9:.0f} GFLOP/s, {profile.bandwidth / 1e9:.1f} GB/s, full accounting)")
    overhead = call_overhead_ms(target, cache, runner.options.runtime_flags(), runner.options.runtime_env())
    print(f"IREE's fixed cost per call here: {overhead:.3f} ms for one 192-element dispatch "
          "(thread-pool wake-up and sync; the model's floor has no such term)")
    misses = []
    for layer in resolve_layers([], args.layers.split(",")):
        variants = [layer.with_layout(lo) for lo in layouts]
        layout_of = {v.id: v.layout for v in variants}
        workloads = expand(variants, ["C-SP", "C-NN", "D-SP", "D-NN"])
        by_id = {w.id: w for w in workloads}
        results = [r for r in runner.run(workloads) if r.status == "ok"]
        x = make_input(layer, 0)
        print(f"\n{layer.label} ({layer.id})")
        print(f"  {'method':6s} {'best':36s} {'ms':>9s} {'x floor':>8s} {'eager ms':>9s} {'format':>6s} {'/eager':>7s}")
        for method in ("C-SP", "C-NN", "D-SP", "D-NN"):
            mine = [r for r in results if r.method == method]
            if not mine:
                print(f"  {method:6s} no verified result")
                continue
            best = min(mine, key=lambda r: r.median_ms)
            floor = estimate(counts(layer, method, best.algorithm), profile, "full").time * 1e3
            if method.startswith("C"):
                eager_module = trained_layer(layer, method, 0).eval()
            else:
                d = deployed_deconv(layer, method, 0)
                eager_module = ALGORITHMS["IREE"].lower(d, layer.batch, layer.h, layer.w).module
            fmt, eager_module, eager_x = fastest_eager(eager_module, x, args.threads)
            ms, eager = alternated(cache.vmfb_path(best.module_key), runner.data.input(by_id[best.id])[1],
                                   runner.options.runtime_flags(), runner.options.runtime_env(), eager_module,
                                   eager_x, args.threads)
            label = f"{best.algorithm or '-'}/{best.preset}/{layout_of[best.layer]}"
            print(f"  {method:6s} {label:36s} {ms:9.3f} {ms / floor:8.1f} {eager:9.3f} {fmt:>6s} {ms / eager:7.2f}")
            why = lowering_of(cache, best.module_key)
            if ms > eager or (method.startswith("D") and ms > 2 * floor):
                why += cpu_time_of(by_id[best.id], best.preset, runner, cache)
            if ms > eager:
                misses.append((f"{layer.label} {method}: {ms / eager:.2f}x torch eager ({label})", why))
            if method.startswith("D") and ms > 2 * floor:
                misses.append((f"{layer.label} {method}: {ms / floor:.1f}x its floor ({label})", why))
    print("\ngoals: " + ("all met" if not misses else f"{len(misses)} missed"))
    for m, why in misses:
        print(f"  missed: {m}")
        for line in why:
            print(f"      {line}")


TINY_DISPATCH = """func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x3x8x8xf32> {
  %e = tensor.empty() : tensor<1x3x8x8xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(a, b, c, d) -> (a, b, c, d)>, affine_map<(a, b, c, d) -> (a, b, c, d)>],
       iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<1x3x8x8xf32>) outs(%e : tensor<1x3x8x8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<1x3x8x8xf32>
  return %y : tensor<1x3x8x8xf32>
}
"""


def call_overhead_ms(target, cache: CompileCache, runtime_flags: list[str], env: dict) -> float:
    """Median time of a module that does (almost) nothing in one dispatch: what every call pays."""
    import numpy as np
    built = build_module(cache, TINY_DISPATCH, "none", target.flags(), 300)
    x = cache.input_file(np.zeros((1, 3, 8, 8), np.float32))
    return statistics.median(benchmark_module(built.vmfb, x, runtime_flags, 9, 0.05, 0.05, 300, env).samples_ms)


def cpu_time_of(w, preset: str, runner: Runner, cache: CompileCache) -> list[str]:
    """Where a missed goal's CPU time goes, dispatch by dispatch (the cpu-samples collector), if perf can sample here."""
    from targets.collectors.cpu_samples import cpu_split
    from targets.collectors import get_collector
    a = get_collector("cpu-samples").availability()
    if not a.usable:
        return [f"(no per-dispatch CPU time: {a.reason})"]
    o = runner.options
    # verify-only: the workload was timed already; the collector runs its own sampled benchmark
    sampler = Runner(RunOptions(o.target, o.device, threads=o.threads, presets=(preset,), verify_only=True,
                                collectors=("cpu-samples",), malloc=o.malloc), cache)
    r = sampler.run([w])[0]
    split = cpu_split(r.to_json()["counters"])
    return [f"CPU time (sampled, all threads): {split}" if split else
            f"(no per-dispatch CPU time: {r.counter_errors or r.reason})"]


def lowering_of(cache: CompileCache, key: str | None, most: int = 3) -> list[str]:
    """What IREE made of the module's compute dispatches (those with a reduction): pipeline and
    vector tiles, from the configurations dumped when it was compiled."""
    try:
        lowering = json.loads(cache.static_path(key).read_text()).get("lowering", [])
    except (OSError, ValueError, TypeError):
        return []
    compute = [d for d in lowering if any(d["tiles"].get("vector_reduction", []))]
    lines = [describe_lowering(d) for d in compute[:most]]
    others = len(lowering) - len(lines)
    return lines + ([f"(+ {others} more dispatches: copies, transposes, elementwise)"] if others else [])


if __name__ == "__main__":
    main()
