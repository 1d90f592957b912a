"""REVD2-HW with its input zero-padded ahead of the kernel, against the kernel padding its own
borders (prints; asserts nothing).

workloads/algorithms/revd2_hw.py pads ahead (a tensor.pad before the custom dispatch) only where
``padded_ahead`` says so: rows of at most two groups of columns and at least 64 border rows per
workgroup (C_in x T). This script builds both forms of each layer's D-SP and D-NN, verifies both
against torch's conv_transpose2d, and times them side by side in alternating rounds, so that the
rule can be checked on any layer.

Usage: python bench/revd2_padding.py [--layer fsrcnn-r2 ...] [--rounds 4]
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


def build(cache, d, layer, x, ahead: bool, ref: np.ndarray):
    """The REVD2-HW module with the padding forced ``ahead`` or not, verified against ``ref``."""
    with mock.patch.object(revd2_hw, "padded_ahead", lambda *a: ahead):
        mlir, input_type = to_mlir(ALGORITHMS["REVD2-HW"].lower(d, layer.batch, layer.h, layer.w, "nchw"), x)
    built = build_module(cache, mlir, input_type, list(get_target("llvm-cpu").compile_flags), 600)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x.numpy())
        y, _ = run_module(built.vmfb, Path(tmp) / "x.npy", FLAGS, 600)
    err = float(np.abs(y - ref).max())
    if err > 1e-4:
        raise SystemExit(f"{layer.name}: the {'padded' if ahead else 'in-place'} form is wrong (max error {err:.2e})")
    return built


def main() -> None:
    from tests.test_transforms import conv_transpose_reference, deconv_f64
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    cache = CompileCache()
    names = args.layer or ["fsrcnn-r2", "fsrcnn-r3", "fsrcnn-r4", "sweep-r2", "sweep-r3", "sweep-r4", "espcn"]
    print("REVD2-HW, input padded ahead over padded in the kernel (median of alternating rounds; < 1: ahead is faster)")
    for layer in resolve_layers([], names):
        for method in ("D-SP", "D-NN"):
            d = deployed_deconv(layer, method, 0)
            x = make_input(layer, 0)
            ref = conv_transpose_reference(x.double(), deconv_f64(layer, method)).numpy()
            built = {ahead: build(cache, d, layer, x, ahead, ref) for ahead in (False, True)}
            samples = {False: [], True: []}
            with tempfile.TemporaryDirectory() as tmp:
                np.save(Path(tmp) / "x.npy", x.numpy())
                for _ in range(args.rounds):
                    for ahead in (False, True):
                        samples[ahead] += benchmark_module(built[ahead].vmfb, Path(tmp) / "x.npy", FLAGS, 3, 0.05,
                                                           0.05, 600).samples_ms
            inplace, ahead = statistics.median(samples[False]), statistics.median(samples[True])
            rule = revd2_hw.padded_ahead(d.cin, d.taps_per_phase, phases(d, layer.h, layer.w)[1].q)
            print(f"  {layer.name or layer.id:10s} {method}  in the kernel {inplace:8.3f} ms  ahead {ahead:8.3f} ms  "
                  f"{ahead / inplace:5.2f}x   the rule pads {'ahead' if rule else 'in the kernel'}", flush=True)


if __name__ == "__main__":
    main()
