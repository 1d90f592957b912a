"""REVD2-HW's two layer-dependent choices, each against its alternative (prints; asserts nothing).

workloads/algorithms/revd2_hw.py decides per layer:
- ``padding``: whether IREE zero-pads the input ahead of the kernel (a tensor.pad), or the kernel
  pads its own border rows (``padded_ahead``: rows of at most two groups of columns and at least 64
  border rows per workgroup, C_in x T);
- ``rows``: output rows per workgroup (``rows_per_workgroup``): the r rows of one q where a row's
  phases span at most two vectors of columns, which the kernel computes together where their
  accumulators fit in registers, or one row at a time.

This script builds each layer's D-SP and D-NN both ways, verifies both against torch's
conv_transpose2d, and times them side by side in alternating rounds, so that either rule can be
checked on any layer.

Usage: python bench/revd2_hw_choices.py [--choice padding|rows] [--layer fsrcnn-r2 ...] [--rounds 4]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.build import build_module                                   # noqa: E402
from suite.cache import CompileCache                                   # noqa: E402
from suite.export import to_mlir                                       # noqa: E402
from suite.selection import resolve_layers                             # noqa: E402
from targets import get_target                                         # noqa: E402
from targets.iree_run import benchmark_module, run_module              # noqa: E402
from workloads.algorithms import ALGORITHMS, revd2_hw                  # noqa: E402
from workloads.algorithms.common import phases                         # noqa: E402
from workloads.methods import deployed_deconv, make_input              # noqa: E402

FLAGS = ["--device=local-task"]

# choice -> (the function that decides it, its two forms: (label, value forced), the rule's pick)
CHOICES = {
    "padding": ("padded_ahead", (("in the kernel", False), ("ahead", True)),
                lambda d, layer: "ahead" if revd2_hw.padded_ahead(d.cin, d.taps_per_phase,
                                                                  phases(d, layer.h, layer.w)[1].q) else "in the kernel"),
    "rows": ("rows_per_workgroup", (("one row", 1), ("r rows", None)),
             lambda d, layer: "r rows" if revd2_hw.rows_per_workgroup(d, phases(d, layer.h, layer.w)[1].out) > 1
             else "one row"),
}


def build(cache, d, layer, x, choice: str, value, ref: np.ndarray):
    """The REVD2-HW module with ``choice`` forced to ``value`` (None: the layer's stride, for rows),
    verified against ``ref``."""
    forced = d.stride if value is None else value
    with mock.patch.object(revd2_hw, CHOICES[choice][0], lambda *a: forced):
        mlir, input_type = to_mlir(ALGORITHMS["REVD2-HW"].lower(d, layer.batch, layer.h, layer.w, "nchw"), x)
    built = build_module(cache, mlir, input_type, list(get_target("llvm-cpu").compile_flags), 600)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x.numpy())
        y, _ = run_module(built.vmfb, Path(tmp) / "x.npy", FLAGS, 600)
    err = float(np.abs(y - ref).max())
    if err > 1e-4:
        raise SystemExit(f"{layer.name}: the {choice}={forced} form is wrong (max error {err:.2e})")
    return built


def main() -> None:
    from tests.test_transforms import conv_transpose_reference, deconv_f64
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--choice", choices=sorted(CHOICES), default="padding")
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    cache = CompileCache()
    names = args.layer or ["fsrcnn-r2", "fsrcnn-r3", "fsrcnn-r4", "sweep-r2", "sweep-r3", "sweep-r4", "espcn"]
    _, forms, rule = CHOICES[args.choice]
    (first, _), (second, _) = forms
    print(f"REVD2-HW, {second} over {first} (median of alternating rounds; < 1: {second} is faster)")
    for layer in resolve_layers([], names):
        for method in ("D-SP", "D-NN"):
            d = deployed_deconv(layer, method, 0)
            x = make_input(layer, 0)
            ref = conv_transpose_reference(x.double(), deconv_f64(layer, method)).numpy()
            built = {label: build(cache, d, layer, x, args.choice, value, ref) for label, value in forms}
            samples = {label: [] for label in built}
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "x.npy", x.numpy())
                for _ in range(args.rounds):
                    for label, module in built.items():
                        samples[label] += benchmark_module(module.vmfb, Path(tmp) / "x.npy", FLAGS, 3, 0.05,
                                                           0.05, 600).samples_ms
            a, b = statistics.median(samples[first]), statistics.median(samples[second])
            print(f"  {layer.name or layer.id:10s} {method}  {first} {a:8.3f} ms  {second} {b:8.3f} ms  "
                  f"{b / a:5.2f}x   the rule: {rule(d, layer)}", flush=True)


if __name__ == "__main__":
    main()
