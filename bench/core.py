"""Ratios measured in one run on this machine (not a test: prints, never asserts).

1. Harness overhead: the suite's median for one workload over the median of plain
   `iree-benchmark-module` (its own defaults + 10 repetitions) on the same module. Goal < 1.05.
2. The paper's case study (ESPCN's last layer): the best D-SP algorithm's latency over C-SP
   through IREE, over torch eager C-SP, and over torch eager conv_transpose2d, same thread count.

Usage: python bench/core.py [--layer SPEC_OR_NAME] [--threads N] [--repetitions N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.utils.benchmark as tb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.cache import CompileCache                         # noqa: E402
from suite.selection import resolve_layers             # noqa: E402
from targets.iree_tools import runtime_tool                      # noqa: E402
from suite.runner import Runner, RunOptions                    # noqa: E402
from targets import get_target                                 # noqa: E402
from workloads.algorithms import ALGORITHMS                    # noqa: E402
from workloads.methods import deployed_deconv, make_input, trained_layer   # noqa: E402
from workloads.workload import Workload, expand               # noqa: E402


def plain_benchmark_median(vmfb: str, x_npy: str, threads: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.json"
        subprocess.run([runtime_tool("iree-benchmark-module"), f"--module={vmfb}", "--device=local-task",
                        f"--task_topology_group_count={threads}", "--function=main", f"--input=@{x_npy}",
                        "--benchmark_repetitions=10", "--benchmark_out_format=json", f"--benchmark_out={out}"],
                       check=True, capture_output=True)
        doc = json.loads(out.read_text())
    runs = [b for b in doc["benchmarks"] if b["run_type"] == "iteration"]
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0}[runs[0]["time_unit"]]
    return statistics.median(b["real_time"] * scale for b in runs)


def torch_median_ms(fn, x, threads: int) -> float:
    t = tb.Timer("fn(x)", globals={"fn": fn, "x": x}, num_threads=threads)
    with torch.no_grad():
        return t.blocked_autorange(min_run_time=1.0).median * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", default="espcn")
    ap.add_argument("--overhead-layer", default="sweep-r3")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=7, help="alternations of suite and plain runs")
    args = ap.parse_args()
    threads = args.threads
    cache = CompileCache()
    opts = RunOptions(get_target("llvm-cpu"), "local-task", threads=threads, repetitions=args.repetitions)
    runner = Runner(opts, cache)
    print(f"threads: {threads} (IREE local-task workers and torch intra-op threads)")

    # 1. harness overhead, alternated to spread the machine's drift over both sides
    layer = resolve_layers([], [args.overhead_layer])[0]
    w = Workload(layer, "C-SP")
    ratios = []
    for _ in range(args.rounds):
        res = runner.run_one(w)
        assert res.status == "ok", res.reason
        vmfb = res.commands["verify"].split("--module=")[1].split()[0]
        x_npy = res.commands["verify"].split("--input=@")[1].split()[0]
        plain = plain_benchmark_median(vmfb, x_npy, threads)
        ratios.append(res.median_ms / plain)
        print(f"  {w.id}: suite median {res.median_ms:.4f} ms, plain iree-benchmark-module {plain:.4f} ms")
    print(f"harness overhead (suite / plain iree-benchmark-module, median of {len(ratios)} alternations): "
          f"{statistics.median(ratios):.3f} (range {min(ratios):.2f}-{max(ratios):.2f}; goal < 1.05)")

    # 2. the case-study layer
    layer = resolve_layers([], [args.layer])[0]
    results = runner.run(expand([layer], ["C-SP", "D-SP"]))
    for r in results:
        print(f"  {r.id:45s} {r.status:8s} {r.median_ms if r.median_ms else float('nan'):10.3f} ms")
    ok = {(r.method, r.algorithm): r.median_ms for r in results if r.status == "ok"}
    csp = ok[("C-SP", None)]
    best_alg, best = min(((a, t) for (m, a), t in ok.items() if m == "D-SP"), key=lambda p: p[1])
    x = make_input(layer, 0)
    eager_csp = torch_median_ms(trained_layer(layer, "C-SP", 0).eval(), x, threads)
    d = deployed_deconv(layer, "D-SP", 0)
    eager_deconv = torch_median_ms(ALGORITHMS["IREE"].lower(d, layer.batch, layer.h, layer.w).module, x, threads)
    print(f"{layer.label}: best D-SP algorithm {best_alg}: {best:.3f} ms")
    print(f"  over C-SP through IREE ({csp:.3f} ms):             {best / csp:.3f}")
    print(f"  over torch eager C-SP ({eager_csp:.3f} ms):        {best / eager_csp:.3f}")
    print(f"  over torch eager conv_transpose2d ({eager_deconv:.3f} ms):  {best / eager_deconv:.3f}")


if __name__ == "__main__":
    main()
