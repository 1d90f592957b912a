"""Calibrate a device profile on this machine: the roofs and the model's compiled-code terms, each
measured by a small kernel compiled through IREE for the same target and device as the workloads.

- bandwidth: y = 2 * x over 64 MiB of f32 (hand-written linalg); bytes = read + write, the STREAM
  "scale" convention (write-allocate traffic, if any, is not counted);
- compute: a 2048^3 f32 linalg.matmul; flops = 2 * M * N * K, compiled with every preset of the
  target (IREE's default matmul reaches a fraction of what data tiling + ukernels do), the best
  preset timed again after each later measurement, in a new process each time (the fastest counts);
- fixed costs: a call with one tiny dispatch, and with a chain of CHAIN in one submission (``_fixed_costs``);
- code rates (``CODE_RATES``): the FLOP/s of code that does not run at the matmul's vector peak,
  each measured on its own algorithm's loop on a deconvolution that is in no catalogue, its fixed
  costs taken off. "gather": REVD2's linalg.generic, whose input is read with tensor.extract, which
  IREE leaves scalar (well below the peak over 16 lanes). "tap": REVD's and STDD's tap matmul
  (``tap_matmul_mlir``), the phases innermost, whose vector tiles IREE fills far less than the lanes
  its channels would (bench/repro/tap_matmul_tiles.py). The model charges a workload's MACs at the
  rate its counts name;
- the cost of a page a call touches fresh (``_fault_cost``): two chained scales whose 48 MiB
  intermediate glibc maps afresh every call, less what their traffic costs at the measured
  bandwidth, per byte the kernel counted faulted. The model charges it on the bytes each workload
  faults (targets.collectors.page_faults).
Each is timed with iree-benchmark-module; the fastest repetition (of the best preset or layout) counts.
Beside them, the target CPU's f32 vector lanes (``vector_lanes``), read from the CPU's flags for
this host's own code and from the architecture for a cross target: the model's lane term. The profile is
stored in results/profiles/ under the machine's fingerprint, target, device and threads, and reused.
It has no energy constants: nothing on this machine measures energy.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np

from suite.build import build_module, compiler_version
from suite.cache import CompileCache, atomic_write
from suite.errors import UserError
from targets.iree_run import StageError, benchmark_module
from suite.model import Profile
from suite.record import machine_fingerprint
from targets import Target

STREAM_ELEMS = 16 * 1024 * 1024        # 64 MiB of f32: far past every cache of an edge or desktop CPU
MATMUL_N = 2048
REPETITIONS = 9                        # samples of each measurement (a test calibrates with fewer)
PROFILE_VERSION = 12                   # 2: the fixed costs of a call and of a dispatch; 3: vector lanes;
                                       # 4: the code rates, and the fixed costs' awake mode over rounds;
                                       # 5: the cost of a faulted byte; 6: that cost over several processes;
                                       # 7: a dispatch's cost within one submission; 8: the tap matmuls' rate;
                                       # 9: the matmul's peak over processes spread over the calibration;
                                       # 10: the accumulator lanes in flight that reach the peak;
                                       # 11: the bandwidth within the last-level cache;
                                       # 12: the code rates over processes spread over the calibration
CODE_RATE_ROUNDS = 3                   # processes each code rate is timed in: _code_rates, then rates_again twice (calibrate)
# the rates of code that does not run at the vector peak, each measured on its own algorithm's loop:
# rate -> (algorithm, layouts timed, the dispatches of its module in them, its grid over RATE_LAYER's)
# gather: REVD2 in NCHW, where every tap is its own scalar tensor.extract (in NHWC, IREE broadcasts
# each extract over the output channels: vector code on a 16-channel layer, 1.7x the scalar rate)
# (REVD2-HW's hand-written kernel is not one: its rate moves with the shape, 52-77 GFLOP/s on four
# calibration layers against 92-107 on ESPCN's and FSRCNN's, so one rate would misrank it.)
# tap: one of REVD's tap matmuls on RATE_LAYER (16 -> 16 channels at stride 2), alone, on twice its
# grid: at 64 x 64 its call (0.3-0.5 ms) is short enough that two workers' wake-ups set its speed,
# 18-32 GFLOP/s over eighteen processes here (their fastest samples), and the profiles calibrated on it held 20.4-22.8;
# at 128 x 128 (1.0-1.2 ms) eight processes ran at 28-34. (REVD2's gather is a call of 11 ms at 64 x 64;
# on the larger grid it ran at 6.1 GFLOP/s against 7.0, the bigger grid's footprint, not a wake-up.)
CODE_RATES = {"gather": ("REVD2", ("nchw",), 2, 1),              # the input pad and the loop
              "tap": ("tap-matmul", ("nchw",), 1, 2)}
RATE_LAYER = {"cin": 16, "cout": 16, "kernel": 6, "stride": 2, "hw": 64}   # in no catalogue; 39 M MACs
CHAIN = 9                              # dispatches in the long chain of the fixed-cost measurement
FIXED_ROUNDS = 4                       # processes each fixed cost and the fault cost are timed in (_fixed_costs)
FAULT_ELEMS = 12 * 1024 * 1024         # 48 MiB of f32: past glibc's largest mmap threshold (32 MiB)
MIN_FAULTED = 2 ** 20                  # bytes a call must fault for its cost to be measured at all
# a conv IREE vectorises along its output width with one sum per vector (NCHW, 32 -> 3 channels:
# 8 lanes in flight on AVX-512), a long reduction (288 taps), in no catalogue: its rate against the
# peak gives the lanes in flight the FMA's latency needs (_latency_conv)
LATENCY_CONV = {"cin": 32, "cout": 3, "k": 3, "out": 128}


def _stream_mlir(n: int) -> str:
    return f"""#id = affine_map<(i) -> (i)>
func.func @main(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %two = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<{n}xf32>
  %y = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel"]}}
      ins(%x : tensor<{n}xf32>) outs(%e : tensor<{n}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %two : f32
    linalg.yield %m : f32
  }} -> tensor<{n}xf32>
  return %y : tensor<{n}xf32>
}}
"""


def _chain_mlir(k: int, n: int = 64) -> str:
    """``k`` tiny element-wise dispatches in a row: the optimisation barriers keep IREE from fusing
    them, so the time of k against 1 is the cost of k - 1 more dispatches."""
    t = f"tensor<{n}xf32>"
    lines, cur = [], "%x"
    for i in range(k):
        lines.append(f"""  %e{i} = tensor.empty() : {t}
  %g{i} = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel"]}}
      ins({cur} : {t}) outs(%e{i} : {t}) {{
  ^bb0(%a: f32, %o: f32):
    %m = arith.addf %a, %a : f32
    linalg.yield %m : f32
  }} -> {t}
  %b{i} = util.optimization_barrier %g{i} : {t}""")
        cur = f"%b{i}"
    body = "\n".join(lines)
    return f"""#id = affine_map<(i) -> (i)>
func.func @main(%x: {t}) -> {t} {{
{body}
  return {cur} : {t}
}}
"""


def _dispatch_chain_mlir(k: int, n: int = 64) -> str:
    """``k`` tiny dependent dispatches in one submission, as a module's dispatches run: each sums
    the input plus the last one's result, and IREE fuses no reduction into another. (An optimisation
    barrier between dispatches, as in ``_chain_mlir``, splits the call into one submission and host
    wait per dispatch: 35-45 us each with unpinned workers here, where FSRCNN's STDD runs 163
    dispatches in 1.3 ms.)"""
    t, s = f"tensor<{n}xf32>", "tensor<f32>"
    lines = [f"  %z = arith.constant 0.0 : f32\n  %e = tensor.empty() : {s}\n"
             f"  %f = linalg.fill ins(%z : f32) outs(%e : {s}) -> {s}"]
    cur = "%f"
    for i in range(k):
        lines.append(f"""  %g{i} = linalg.generic {{indexing_maps = [#id, #sc, #sc], iterator_types = ["reduction"]}}
      ins(%x, {cur} : {t}, {s}) outs(%f : {s}) {{
  ^bb0(%a: f32, %p: f32, %o: f32):
    %m = arith.addf %a, %p : f32
    %r = arith.addf %m, %o : f32
    linalg.yield %r : f32
  }} -> {s}""")
        cur = f"%g{i}"
    body = "\n".join(lines)
    return f"""#id = affine_map<(j) -> (j)>
#sc = affine_map<(j) -> ()>
func.func @main(%x: {t}) -> {s} {{
{body}
  return {cur} : {s}
}}
"""


def _matmul_mlir(n: int) -> str:
    t = f"tensor<{n}x{n}xf32>"
    return f"""func.func @main(%a: {t}, %b: {t}) -> {t} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {t}
  %f = linalg.fill ins(%zero : f32) outs(%e : {t}) -> {t}
  %c = linalg.matmul ins(%a, %b : {t}, {t}) outs(%f : {t}) -> {t}
  return %c : {t}
}}
"""


def _nchw_conv_mlir(cin: int, cout: int, k: int, out: int) -> tuple[str, list[np.ndarray], int]:
    """(MLIR, inputs, flops) of a stride-1 k x k conv in NCHW from cin to cout channels, out x out."""
    hw = out + k - 1
    x, w, y = f"tensor<1x{cin}x{hw}x{hw}xf32>", f"tensor<{cout}x{cin}x{k}x{k}xf32>", f"tensor<1x{cout}x{out}x{out}xf32>"
    mlir = f"""func.func @main(%x: {x}, %w: {w}) -> {y} {{
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : {y}
  %f = linalg.fill ins(%zero : f32) outs(%e : {y}) -> {y}
  %c = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
      ins(%x, %w : {x}, {w}) outs(%f : {y}) -> {y}
  return %c : {y}
}}
"""
    inputs = [np.full((1, cin, hw, hw), 0.5, np.float32), np.full((cout, cin, k, k), 0.25, np.float32)]
    return mlir, inputs, 2 * cin * cout * k * k * out * out


def _latency_conv(cache: CompileCache, target: Target, flags: list[str], repetitions: int) -> dict | None:
    """LATENCY_CONV timed, with its vector tile's accumulator lanes as IREE compiled it (from the
    module's own lowering, targets.collectors.iree_static); None where IREE does not vectorise it
    along its output width (another CPU or compiler)."""
    from suite.build import static_summary
    from targets.collectors.iree_static import spatial_conv_tile
    mlir, inputs, flops = _nchw_conv_mlir(**LATENCY_CONV)
    built = build_module(cache, mlir, "none", target.flags("default"), 600)
    conv = spatial_conv_tile(static_summary(cache, built, 600))
    if conv is None:
        return None
    t, samples, cmd, _ = _peak(cache, mlir, inputs, target, flags, repetitions, ["default"], 0.1)
    return {"t": t, "flops": flops, "in_flight": conv[1]["in_flight"], "dispatch": conv[0], "conv": LATENCY_CONV,
            "samples_ms": samples, "command": cmd}


def _cache_bandwidth(cache: CompileCache, target: Target, flags: list[str], repetitions: int,
                     llc: int | None, t_one: float) -> dict | None:
    """The scale's bandwidth over a quarter of the last-level cache (read and write: half of it), the
    call's fixed cost taken off: what a dispatch that only moves data reaches when the call's data
    stays in that cache (suite.model.compiled_time). None where the cache's size is unknown.
    On this repository's VM (32 MiB L3) the scale ran at 75-88 GB/s over 4-16 MiB, call included,
    against 38 over 64 MiB; calibrated, 132 GB/s."""
    if not llc:
        return None
    n = llc // 4 // 4                                 # f32 elements in a quarter of the cache
    x = np.full(n, 1.5, np.float32)
    t, samples, cmd, _ = _peak(cache, _stream_mlir(n), [x], target, flags, repetitions, ["default"], 0.05)
    return {"bytes": 2 * 4 * n, "bandwidth": 2 * 4 * n / max(t - t_one, 1e-9), "samples_ms": samples, "command": cmd}


def _fixed_costs(cache: CompileCache, target: Target, flags: list[str], repetitions: int, rounds: int):
    """A call with one tiny dispatch and with a chain of CHAIN in one submission
    (``_dispatch_chain_mlir``), each timed in ``rounds`` alternating processes: (fastest one, its
    samples, command, fastest chain, its samples, command). On a VM a call is bimodal -- a pinned
    worker that went to sleep costs a wake-up (here 15 against 50 us a call) -- and one process can
    stay in either mode throughout, so the fastest over several processes counts. A further
    dispatch in the same submission costs little: 9 took 49-55 us a call here against 15-51 for 1,
    pinned or not. (The chain used to be split by optimisation barriers, which made each dispatch
    its own submission and host wait: 15 us each pinned and 42 unpinned, where FSRCNN's STDD runs
    163 dispatches in 1.3 ms.)"""
    small = [np.full(64, 1.5, np.float32)]
    best = {1: (float("inf"), [], ""), CHAIN: (float("inf"), [], "")}
    for _ in range(rounds):
        for k in (1, CHAIN):
            t, samples, cmd, _ = _peak(cache, _dispatch_chain_mlir(k), small, target, flags, repetitions,
                                       ["default"], 0.05)        # microseconds a call: many calls a sample
            best[k] = (min(t, best[k][0]), best[k][1] + samples, cmd)
    return (*best[1], *best[CHAIN])


def tap_matmul_mlir(weights: np.ndarray, q: int, p: int) -> str:
    """REVD's and STDD's contraction for one tap group, alone: out[o, q, a, p, b] = sum_c x[c, q, p] *
    w[o, a, b, c] (the r x r phases of every output pixel from a 1x1 conv over C_in), main(x) with
    ``weights`` [C_out, r, r, C_in] a constant, as in REVD's module."""
    import torch
    from workloads.algorithms.revd2 import _dense
    co, r, _, ci = weights.shape
    x, w, y = f"tensor<{ci}x{q}x{p}xf32>", f"tensor<{co}x{r}x{r}x{ci}xf32>", f"tensor<{co}x{q}x{r}x{p}x{r}xf32>"
    return f"""#x = affine_map<(o, q, a, p, b, c) -> (c, q, p)>
#w = affine_map<(o, q, a, p, b, c) -> (o, a, b, c)>
#y = affine_map<(o, q, a, p, b, c) -> (o, q, a, p, b)>
func.func @main(%x: {x}) -> {y} {{
  %w = arith.constant {_dense(torch.from_numpy(np.ascontiguousarray(weights)))}
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : {y}
  %init = linalg.fill ins(%zero : f32) outs(%empty : {y}) -> {y}
  %out = linalg.generic {{indexing_maps = [#x, #w, #y],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}}
      ins(%x, %w : {x}, {w}) outs(%init : {y}) {{
    ^bb0(%a: f32, %b: f32, %acc: f32):
      %m = arith.mulf %a, %b : f32
      %s = arith.addf %acc, %m : f32
      linalg.yield %s : f32
  }} -> {y}
  return %out : {y}
}}
"""


def _rate_workload(algorithm: str, layout: str, hw: int = RATE_LAYER["hw"]) -> tuple[str, list[np.ndarray], int]:
    """(MLIR, inputs, flops) of ``algorithm`` on RATE_LAYER, hw x hw, in ``layout``."""
    import torch
    from workloads.algorithms.revd2 import revd2_mlir
    from workloads.transforms import Deconv
    g = {**RATE_LAYER, "hw": hw}
    if algorithm == "tap-matmul":
        co, ci, r = g["cout"], g["cin"], g["stride"]
        w = torch.randn(co, r, r, ci, generator=torch.Generator().manual_seed(0)).numpy()
        return tap_matmul_mlir(w, hw, hw), [np.full((ci, hw, hw), 0.5, np.float32)], 2 * co * ci * r * r * hw * hw
    gen = torch.Generator().manual_seed(0)
    d = Deconv(torch.randn(g["cin"], g["cout"], g["kernel"], g["kernel"], generator=gen), g["stride"], (0, 0, 0, 0))
    x = np.full((1, g["cin"], g["hw"], g["hw"]), 0.5, np.float32)
    if layout == "nhwc":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    oh, ow = d.out_hw(g["hw"], g["hw"])
    flops = 2 * g["cin"] * g["cout"] * d.taps_per_phase ** 2 * oh * ow
    mlir = {"REVD2": revd2_mlir}[algorithm](d, 1, g["hw"], g["hw"], layout)
    return mlir, [x], flops


def _code_rates(cache: CompileCache, target: Target, flags: list[str], repetitions: int,
                t_one: float, dispatch_s: float, hw: int) -> dict:
    """{rate: FLOP/s and how it was measured} for CODE_RATES: each algorithm's loop on RATE_LAYER (at
    the fastest of its layouts where it names several), the call's and its further dispatches' fixed
    costs taken off (they are the model's own terms)."""
    out = {}
    for rate, (algorithm, layouts, dispatches, grid) in CODE_RATES.items():
        best = None
        for layout in layouts:
            mlir, inputs, flops = _rate_workload(algorithm, layout, hw * grid)
            t, samples, cmd, _ = _peak(cache, mlir, inputs, target, flags, repetitions, ["default"], 0.1)
            if best is None or t < best["t"]:
                best = {"t": t, "samples_ms": samples, "command": cmd, "layout": layout, "flops": flops}
        work = max(best.pop("t") - t_one - (dispatches - 1) * dispatch_s, 1e-9)
        out[rate] = {"flops_per_s": best["flops"] / work, "algorithm": algorithm,
                     "layer": {**RATE_LAYER, "hw": hw * grid}, **best}
    return out


def _faster_rates(rates: dict, new: dict) -> dict:
    """Each code rate's faster of two timings, each in its own process, with every round's rate kept,
    as the peak's (_faster): a process can spend its whole timing in a slow mode (suite/sched.py) or
    in a slow phase of the VM, and one process set the tap rate before (see CODE_RATES)."""
    out = {}
    for rate, r in rates.items():
        rounds = [*r.get("rounds_flops_per_s", [r["flops_per_s"]]), new[rate]["flops_per_s"]]
        out[rate] = {**(new[rate] if new[rate]["flops_per_s"] > r["flops_per_s"] else r), "rounds_flops_per_s": rounds}
    return out


def _faster(t: float, samples: list[float], rounds: list[float], t_new: float, samples_new: list[float]):
    """The faster of two timings of the peak's matmul, each in its own process, and each round's fastest
    (ms): a slow phase of a VM that lasts one process's timing does not set the compute roof."""
    rounds = [*rounds, t_new * 1e3]
    return (t_new, samples_new, rounds) if t_new < t else (t, samples, rounds)


def _fault_cost(cache: CompileCache, target: Target, flags: list[str], repetitions: int, bandwidth: float,
                call_s: float, dispatch_s: float, rounds: int = 1) -> dict:
    """Seconds per byte a call pays for pages it touches fresh, and how that was measured: two
    chained scales over FAULT_ELEMS, whose intermediate glibc maps afresh every call (an mmap over
    its threshold, unmapped when freed), timed in ``rounds`` processes, the fastest; less their
    traffic at the measured ``bandwidth`` and the fixed costs of a call of two dispatches; per byte
    the kernel counted faulted in a call. None where a call faults under MIN_FAULTED (a C library
    that keeps such buffers). Several processes, because on a freshly booted VM a process can get
    guest pages the host has never backed, and its every fault then costs a host fault too: the
    first calibration of a fresh 2-vCPU VM measured 1.28 ns a byte in all nine repetitions of its
    one process, against 0.20-0.40 in every later calibration."""
    from targets.iree_run import faults_per_call
    import resource
    x, mlir = np.full(FAULT_ELEMS, 1.5, np.float32), _chain_mlir(2, FAULT_ELEMS)
    t, samples, cmd = float("inf"), [], ""
    for _ in range(max(1, rounds)):
        t_i, samples_i, cmd, _ = _peak(cache, mlir, [x], target, flags, repetitions, ["default"], 0.05)
        t, samples = min(t, t_i), samples + samples_i
    vmfb = build_module(cache, mlir, "none", target.flags("default"), 600).vmfb     # _peak's, from the cache
    faults, _ = faults_per_call(vmfb, cache.input_file(x), flags, 600)
    faulted = faults * resource.getpagesize()
    traffic = 2 * 2 * 4 * FAULT_ELEMS                    # each scale reads and writes FAULT_ELEMS floats
    rest = t - traffic / bandwidth - call_s - dispatch_s
    cost = max(rest, 0.0) / faulted if faulted >= MIN_FAULTED else None
    return {"s_per_byte": cost, "faulted_bytes": faulted, "traffic_bytes": traffic, "samples_ms": samples,
            "command": cmd}


def vector_lanes(target: Target, machine: dict) -> tuple[int | None, str]:
    """(f32 lanes of the vectors IREE's llvm-cpu code uses on this target, where that comes from);
    None for a GPU target or an architecture without a known width."""
    arch = target.cpu_arch
    if arch is None:
        return None, "not a CPU target"
    if arch == "x86_64" and target.for_this_cpu:
        flags = set(machine.get("cpu_flags") or ())
        for flag, lanes in (("avx512f", 16), ("avx2", 8), ("avx", 8)):
            if flag in flags:
                return lanes, f"{flag} in this CPU's flags: {lanes * 32}-bit vectors, {lanes} f32 lanes"
        return 4, "x86-64 without AVX in this CPU's flags: SSE's 128-bit vectors, 4 f32 lanes"
    if arch in ("aarch64", "arm64", "armv7"):
        return 4, f"{arch}: NEON's 128-bit vectors, 4 f32 lanes"
    return None, f"no known vector width for {arch}"


def last_level_cache(target: Target) -> tuple[int | None, str]:
    """(bytes of this CPU's last-level cache, where that comes from) for a target that runs on this
    host's CPU (Linux sysfs); None elsewhere: a cross target's device has caches of its own."""
    if target.cpu_arch is None or not target.for_this_cpu:
        return None, "not this host's CPU"
    best = None
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind in ("Unified", "Data") and size[:-1].isdigit() and (best is None or level > best[0]):
            best = (level, int(size[:-1]) * {"K": 2**10, "M": 2**20, "G": 2**30}.get(size[-1], 1))
    if best is None:
        return None, "no cache sizes in /sys/devices/system/cpu/cpu0/cache"
    return best[1], f"L{best[0]}, /sys/devices/system/cpu/cpu0/cache"


def fingerprint_key(machine: dict) -> str:
    core = {k: machine.get(k) for k in ("arch", "cpu", "cpu_flags", "cpus_usable", "memory_bytes")}
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:12]


def profile_path(folder: Path, target: Target, device: str, threads: int | None) -> Path:
    t = f"-t{threads}" if threads else ""
    return Path(folder) / f"{fingerprint_key(machine_fingerprint())}-{target.name}-{device}{t}.json"


SCREEN_WITHIN = 1.3                    # presets this close to the best single call get every repetition


def _peak(cache: CompileCache, mlir: str, inputs: list[np.ndarray], target: Target, flags: list[str],
          repetitions: int, presets: list[str], min_time_s: float = 0.2) -> tuple[float, list[float], str, str]:
    """Fastest time over the presets: (seconds, that preset's samples, its command, the preset).
    Several presets are screened with one repetition first, and only those within SCREEN_WITHIN of
    the best get the full repetitions: the 2048^3 matmul's slow presets (IREE's default, 0.47 s a
    call here) took 19 of the calibration's 43 s, to lose by 4x."""
    paths = [cache.input_file(a) for a in inputs]
    modules = {p: build_module(cache, mlir, "none", target.flags(p), 600).vmfb for p in presets}
    if len(presets) > 1:
        screen = {p: benchmark_module(m, paths, flags, 1, 0.0, 0.1, 600, iterations=1).samples_ms[0]
                  for p, m in modules.items()}
        modules = {p: m for p, m in modules.items() if screen[p] <= SCREEN_WITHIN * min(screen.values())}
    best = None
    for preset, vmfb in modules.items():
        t = benchmark_module(vmfb, paths, flags, repetitions, min_time_s, 0.1, 600)
        if best is None or min(t.samples_ms) < min(best[1]):
            best = (min(t.samples_ms) / 1e3, t.samples_ms, t.command, preset)
    return best


def measure_bandwidth(cache: CompileCache, target: Target, flags: list[str], stream_elems: int = STREAM_ELEMS,
                      repetitions: int = REPETITIONS) -> dict:
    """The DRAM bandwidth, as the profile measures it: the scale over ``stream_elems`` floats, the
    fastest of ``repetitions`` samples in one process; bytes = read + write."""
    x = np.full(stream_elems, 1.5, np.float32)
    t, samples, command, preset = _peak(cache, _stream_mlir(stream_elems), [x], target, flags, repetitions,
                                        ["default"])
    return {"bandwidth": 2 * 4 * stream_elems / t, "bytes": 2 * 4 * stream_elems, "samples_ms": samples,
            "command": command, "preset": preset}


def with_bandwidth_now(profile: Profile, path: Path, target: Target, device: str, threads: int | None,
                       cache: CompileCache) -> Profile:
    """The calibrated profile with its DRAM bandwidth measured again now, beside a run's rows, at the
    profile's own sizes. This VM's bandwidth drifts with its host over tens of minutes (38.4, 30.9
    and 30.2-33.9 GB/s within two hours, docs/model-notes.md), while a profile is kept for days; a
    run's bytes-bound rows follow the bandwidth of their hour, so the model charges their bytes at
    it. The calibrated value stays in the profile's ``extra`` (the record keeps both); where the
    measurement fails, the run keeps the calibrated value and says why."""
    doc = json.loads(path.read_text())
    sizes = doc.get("sizes", {})
    try:
        now = measure_bandwidth(cache, target, target.runtime_flags(device, threads),
                                sizes.get("stream_elems", STREAM_ELEMS), sizes.get("repetitions", REPETITIONS))
    except StageError as e:
        note = f"calibrated: measuring it at the start of this run failed ({e.stage}: {str(e)[:200]})"
        return dataclasses.replace(profile, extra={**(profile.extra or {}), "bandwidth_source": note})
    extra = {**(profile.extra or {}), "bandwidth_calibrated": profile.bandwidth,
             "bandwidth_source": "measured at the start of this run: the calibration's scale, the fastest of "
                                 f"{len(now['samples_ms'])} samples in one process",
             "bandwidth_samples_ms": now["samples_ms"]}
    return dataclasses.replace(profile, bandwidth=now["bandwidth"], extra=extra)


def calibrate(target: Target, device: str, threads: int | None, cache: CompileCache,
              repetitions: int = REPETITIONS, stream_elems: int = STREAM_ELEMS, matmul_n: int = MATMUL_N,
              rate_hw: int = RATE_LAYER["hw"], fixed_rounds: int = FIXED_ROUNDS,
              presets: list[str] | None = None) -> dict:
    """Measure the roofs. The sizes are parameters so that a test can calibrate small; a profile
    records them, and only one measured at the sizes asked for is reused."""
    flags = target.runtime_flags(device, threads)
    try:
        stream = measure_bandwidth(cache, target, flags, stream_elems, repetitions)
        a = np.full((matmul_n, matmul_n), 0.5, np.float32)
        mm = _matmul_mlir(matmul_n)
        t_mm, s_mm, cmd_mm, p_mm = _peak(cache, mm, [a, a], target, flags, repetitions, presets or list(target.presets))

        # The peak is timed again after each later measurement, each time in a process of its own, and
        # the fastest counts: a calibration inside one of this VM's slow phases (suite/rounds.py)
        # measured 165 GFLOP/s (matmul calls of 104-122 ms) against 209 (82-91 ms) in another; the same
        # run's rows scored a median error of 28.9% against the one and 34.6% against the other.
        def matmul_again():                          # 3 samples suffice: only the fastest counts
            return _peak(cache, mm, [a, a], target, flags, min(3, repetitions), [p_mm])[:2]
        peak_rounds = [t_mm * 1e3]
        t_one, s_one, cmd_one, t_chain, s_chain, cmd_chain = _fixed_costs(cache, target, flags, repetitions,
                                                                                 fixed_rounds)
        dispatch_s = max(0.0, (t_chain - t_one) / (CHAIN - 1))
        t_mm, s_mm, peak_rounds = _faster(t_mm, s_mm, peak_rounds, *matmul_again())
        def rates_again(rates):                      # like the peak: the fastest of processes spread out
            return _faster_rates(rates, _code_rates(cache, target, flags, repetitions, t_one, dispatch_s, rate_hw))
        rates = _code_rates(cache, target, flags, repetitions, t_one, dispatch_s, rate_hw)
        latency = _latency_conv(cache, target, flags, repetitions)
        llc, llc_source = last_level_cache(target)
        in_cache = _cache_bandwidth(cache, target, flags, repetitions, llc, t_one)
        t_mm, s_mm, peak_rounds = _faster(t_mm, s_mm, peak_rounds, *matmul_again())
        rates = rates_again(rates)
        faults = _fault_cost(cache, target, flags, repetitions, stream["bandwidth"], t_one, dispatch_s,
                             fixed_rounds)
        t_mm, s_mm, peak_rounds = _faster(t_mm, s_mm, peak_rounds, *matmul_again())
        rates = rates_again(rates)
    except StageError as e:
        raise UserError(f"calibration on {target.name}/{device} failed ({e.stage}): {e}") from None
    flops = 2 * matmul_n ** 3
    if latency:                          # its rate, the call's fixed cost off, against the final peak
        latency["flops_per_s"] = latency["flops"] / max(latency.pop("t") - t_one, 1e-9)
        latency["lanes"] = latency["in_flight"] * (flops / t_mm) / latency["flops_per_s"]
    machine = machine_fingerprint()
    lanes, lanes_source = vector_lanes(target, machine)
    return {
        "profile_version": PROFILE_VERSION,
        "name": "calibrated",
        "description": f"{machine['cpu']} through IREE {target.name} ({device}"
                       + (f", {threads} threads)" if threads else ")"),
        "source": f"measured here by `suite calibrate`: {matmul_n}^3 f32 matmul (the fastest of "
                  f"{len(peak_rounds)} processes spread over the calibration) and a "
                  f"{stream_elems * 4 / 2**20:g} MiB f32 scale, fastest of the repetitions; the fixed costs "
                  f"of a call and of a dispatch from a chain of 1 and of {CHAIN} tiny dependent dispatches in one "
                  "submission (fastest of "
                  f"{fixed_rounds} processes each); the rate "
                  "of REVD2's scalar gather and of REVD's tap matmul on a deconvolution in no catalogue (fastest of "
                  f"{CODE_RATE_ROUNDS} processes spread over the calibration); "
                  "the accumulator lanes in flight that reach the peak, from the rate of a conv with one "
                  "sum per vector (NCHW, in no catalogue) and its vector tile as IREE compiled it; the "
                  "bandwidth within the last-level cache, from the same scale over a quarter of it; "
                  "the cost of a faulted byte from "
                  f"two chained {FAULT_ELEMS * 4 / 2**20:g} MiB scales (fastest of {fixed_rounds} processes), their "
                  "traffic taken off",
        "sizes": {"stream_elems": stream_elems, "matmul_n": matmul_n, "rate_hw": rate_hw, "fixed_rounds": fixed_rounds,
                  "repetitions": repetitions},
        "peak_flops": flops / t_mm,
        "bandwidth": stream["bandwidth"],
        "flops_per_mac": 2,
        "call_s": t_one,                                    # a call with one (tiny) dispatch
        "dispatch_s": dispatch_s,
        "gather_flops": rates["gather"]["flops_per_s"],
        "tap_flops": rates["tap"]["flops_per_s"],
        "fault_s_per_byte": faults["s_per_byte"],
        "latency_lanes": latency["lanes"] if latency else None,
        "cache_bandwidth": in_cache["bandwidth"] if in_cache else None,
        "cache_bytes": llc,
        "cache_bytes_source": llc_source,
        "vector_lanes": lanes,
        "vector_lanes_source": lanes_source,
        "estimate": False,
        "measured_here": True,
        "machine": machine,
        "target": {"name": target.name, "device": device, "threads": threads},
        "iree": compiler_version(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "measurements": {"stream": {k: stream[k] for k in ("bytes", "samples_ms", "command", "preset")},
                         "matmul": {"flops": flops, "samples_ms": s_mm, "command": cmd_mm, "preset": p_mm,
                                    "rounds_fastest_ms": peak_rounds},
                         "fixed_costs": {"one_dispatch_samples_ms": s_one, "command": cmd_one,
                                         f"{CHAIN}_dispatches_samples_ms": s_chain, "chain_command": cmd_chain},
                         "code_rates": rates, "faults": faults, "latency": latency, "cache": in_cache},
    }


def to_profile(doc: dict) -> Profile:
    keep = ("name", "description", "source", "peak_flops", "bandwidth", "flops_per_mac", "estimate",
            "measured_here", "machine")
    return Profile(**{k: doc[k] for k in keep}, call_s=doc.get("call_s"), dispatch_s=doc.get("dispatch_s"),
                   vector_lanes=doc.get("vector_lanes"), gather_flops=doc.get("gather_flops"),
                   tap_flops=doc.get("tap_flops"),
                   fault_s_per_byte=doc.get("fault_s_per_byte"), latency_lanes=doc.get("latency_lanes"),
                   cache_bandwidth=doc.get("cache_bandwidth"), cache_bytes=doc.get("cache_bytes"))


def load_or_calibrate(folder: Path, target: Target, device: str, threads: int | None, cache: CompileCache,
                      force: bool = False, on_calibrate=None, stream_elems: int = STREAM_ELEMS,
                      matmul_n: int = MATMUL_N, presets: list[str] | None = None, rate_hw: int = RATE_LAYER["hw"],
                      fixed_rounds: int = FIXED_ROUNDS, repetitions: int = REPETITIONS) -> tuple[Profile, Path, bool]:
    """The stored profile for this machine/target/device/threads, calibrating if there is none."""
    path = profile_path(folder, target, device, threads)
    sizes = {"stream_elems": stream_elems, "matmul_n": matmul_n, "rate_hw": rate_hw, "fixed_rounds": fixed_rounds,
             "repetitions": repetitions}
    if path.exists() and not force:
        try:
            doc = json.loads(path.read_text())
            if doc.get("profile_version") == PROFILE_VERSION and doc.get("iree") == compiler_version() \
                    and doc.get("sizes") == sizes:
                return to_profile(doc), path, False
        except (OSError, ValueError, KeyError, TypeError):
            pass                                   # unreadable or stale: calibrate again
    if on_calibrate:
        on_calibrate()
    doc = calibrate(target, device, threads, cache, repetitions, stream_elems=stream_elems, matmul_n=matmul_n,
                    presets=presets, rate_hw=rate_hw, fixed_rounds=fixed_rounds)
    try:
        atomic_write(path, json.dumps(doc, indent=1) + "\n")
    except OSError as e:
        raise UserError(f"cannot store the calibrated profile at {path}: {e.strerror or e}") from None
    return to_profile(doc), path, True
