"""How fast IREE's conv runs as its output channels leave vector lanes idle (prints; asserts nothing).

The model's lane term (suite.model.lane_use) charges a conv to C_out output channels at
C_out / 16 of the matmul peak on AVX-512 (16 f32 lanes), a whole vector from 16 on. This times a
plain stride-1 3x3 conv for C_out = 1..16, in NCHW at the default preset and in NHWC at
channels-last+wide-vectors (the lowering most tuned conv rows take), for a few C_in, each compiled
through the suite's cache and timed by iree-benchmark-module (fastest of 5 samples of >= 50 ms,
less the calibrated fixed cost of a call), and prints its GFLOP/s beside what the lane term gives it.

Measured on the 2-vCPU AMD EPYC VM (2026-12-05, 2 threads, peak 209 GFLOP/s), to 128x128, run to
run within about 1.5x:
- NHWC at C_in 56 ran 5.5, 37, 56, 65, 154 and 197 GFLOP/s at C_out 1, 2, 3, 4, 8 and 16 (0.4-1.5x
  the term); NCHW at C_in 16 and 56 ran 5-6 at C_out 1 and 21-93 above it (0.45-1.2x); C_in 3 ran
  below both. A single output channel runs 2-3x under the term in either layout;
- the output's side matters as much: IREE 3.13 picks tiles that divide it, and the sweep's own
  3 -> 3 6x6 conv ran 74 GFLOP/s to 256 x 256 but 7 to 251 x 251 (a prime), as a conv to 62 x 62
  runs several times slower than one to 64 x 64 here.
The term is thus right to within about 2x where C_out > 1 and the output divides into vector tiles.
Charging the NHWC rows of three default runs at a curve measured this way in its place (C_in 56,
or C_in 16, to 128 x 128; rescored offline) gave a median error of 39.0-40.2%, or 35.0-36.0%,
against 34.5-35.8% with the term, and lowered FSRCNN's Kendall tau by up to 0.12: a curve measured
on one shape is no better than the term, so the model keeps the term.

Usage: python bench/lane_rates.py [--cin 3 16 56] [--cout 1 2 3 4 8 16] [--out 64]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

K = 3
LOWERINGS = {"nchw": "default", "nhwc": "channels-last+wide-vectors"}


def conv_mlir(layout: str, ci: int, co: int, o: int) -> tuple[str, tuple[int, ...]]:
    """A stride-1 KxK conv in ``layout`` to an ``o`` x ``o`` output, as linalg, and its input shape.
    The output's side should be a multiple of 16: IREE 3.13 picks tiles that divide it, and a conv
    to 62 x 62 (or the prime 251) runs several times slower than one to 64 x 64 (or 256)."""
    hw = o + K - 1
    if layout == "nchw":
        x, wt, y, op = f"1x{ci}x{hw}x{hw}", f"{co}x{ci}x{K}x{K}", f"1x{co}x{o}x{o}", "conv_2d_nchw_fchw"
        shape = (1, ci, hw, hw)
    else:
        x, wt, y, op = f"1x{hw}x{hw}x{ci}", f"{K}x{K}x{ci}x{co}", f"1x{o}x{o}x{co}", "conv_2d_nhwc_hwcf"
        shape = (1, hw, hw, ci)
    w = np.random.default_rng(0).standard_normal(ci * co * K * K).astype("<f4")
    weights = f'dense<"0x{w.tobytes().hex().upper()}"> : tensor<{wt}xf32>'
    return f"""func.func @main(%x: tensor<{x}xf32>) -> tensor<{y}xf32> {{
  %w = arith.constant {weights}
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<{y}xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<{y}xf32>) -> tensor<{y}xf32>
  %y = linalg.{op} {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
      ins(%x, %w : tensor<{x}xf32>, tensor<{wt}xf32>) outs(%f : tensor<{y}xf32>) -> tensor<{y}xf32>
  return %y : tensor<{y}xf32>
}}
""", shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cin", type=int, nargs="+", default=[3, 16, 56])
    ap.add_argument("--cout", type=int, nargs="+", default=[1, 2, 3, 4, 8, 16])
    ap.add_argument("--out", type=int, default=64, help="the output's side (a multiple of 16: see conv_mlir)")
    args = ap.parse_args()

    from suite.build import build_module
    from suite.model import lane_use
    from suite.run import Run, Storage, make_plan
    from targets.iree_run import benchmark_module
    run = Run(make_plan(tune="none", peers="none"), Storage(save=False))
    o = run.options
    profile = run.profile                          # this machine's, calibrated on first use
    print(f"{K}x{K} conv to {args.out}x{args.out}, GFLOP/s measured (the lane term's, at the peak "
          f"{profile.peak_flops / 1e9:.0f} over {profile.vector_lanes} lanes)")
    for layout, preset in LOWERINGS.items():
        for ci in args.cin:
            cells = []
            for co in args.cout:
                mlir, shape = conv_mlir(layout, ci, co, args.out)
                vmfb = build_module(run.cache, mlir, "none", o.target.flags(preset), 600).vmfb
                x = run.cache.input_file(np.full(shape, 0.5, np.float32))
                t = benchmark_module(vmfb, x, o.runtime_flags(), 5, 0.05, 0.02, 600)
                flops = 2 * ci * co * K * K * args.out ** 2
                term = profile.peak_flops * lane_use(co, profile.vector_lanes)
                work = min(t.samples_ms) / 1e3 - (profile.call_s or 0.0)      # the model's call cost apart
                cells.append(f"{co}: {flops / work / 1e9:5.1f} ({term / 1e9:5.1f})")
            print(f"{layout} at {preset}, C_in {ci:3d}:  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
