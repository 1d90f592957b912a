"""How far this machine's noise alone moves a timing ratio: an A/A test (prints; asserts nothing).

One compiled module is timed against itself the way `suite run` times two rows: each side takes
its samples in alternating rounds (4 + 3 + 3 samples of at least --min-time, a fresh
iree-benchmark-module per round), and the ratio of the two sides' medians is what a table would
print. Its true value is 1.00. Repeated --pairs times, the spread of that ratio is the smallest
difference a single run can resolve here: issue 18's goals (each row within 1.2x of its best
lowering, REVD2 within 1.25x of the best other algorithm) are judged against it.

Usage: python bench/noise.py [--layer fsrcnn-r4 --method D-NN --algorithm TDCF] [--pairs 12]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.build import build_module                     # noqa: E402
from suite.cache import CompileCache                     # noqa: E402
from suite.export import to_mlir                         # noqa: E402
from suite.rounds import split                           # noqa: E402
from suite.selection import resolve_layers               # noqa: E402
from targets import get_target                           # noqa: E402
from targets.iree_run import benchmark_module            # noqa: E402
from workloads.workload import Workload                  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="fsrcnn-r4")
    ap.add_argument("--method", default="D-NN")
    ap.add_argument("--algorithm", default="TDCF")
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--min-time", type=float, default=0.05, help="seconds per sample (the suite's default)")
    args = ap.parse_args()
    (layer,) = resolve_layers([], [args.layer])
    w = Workload(layer, args.method, None if args.algorithm in ("", "-") else args.algorithm)
    x = w.input(0)
    mlir, input_type = to_mlir(w.lowering(0), x)
    target = get_target("llvm-cpu")
    built = build_module(CompileCache(), mlir, input_type, list(target.compile_flags), 600)
    flags = ["--device=local-task"]
    with tempfile.TemporaryDirectory() as tmp:
        x_path = Path(tmp) / "x.npy"
        np.save(x_path, x.numpy())
        ratios = []
        for pair in range(args.pairs):
            sides = ([], [])
            for k in split(10):
                for samples in sides:                       # A, B, A, B, ...: as the suite alternates rows
                    samples += benchmark_module(built.vmfb, x_path, flags, k, args.min_time, 0.05, 600).samples_ms
            a, b = (statistics.median(s) for s in sides)
            ratios.append(a / b)
            print(f"  pair {pair + 1:2d}: A {a:9.4f} ms  B {b:9.4f} ms  A/B {a / b:5.2f}", flush=True)
    spread = [max(q, 1 / q) for q in ratios]
    print(f"{w.id} at IREE's default lowering, {args.pairs} A/A pairs of 10 samples (>= {args.min_time * 1e3:g} ms "
          f"each): A/B from {min(ratios):.2f} to {max(ratios):.2f}, median {statistics.median(ratios):.2f}; "
          f"{sum(s > 1.2 for s in spread)} of {args.pairs} beyond 1.2x, {sum(s > 1.25 for s in spread)} beyond 1.25x")


if __name__ == "__main__":
    main()
