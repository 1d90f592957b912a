"""How fast IREE's conv runs as its output channels leave vector lanes idle (prints; asserts nothing).

The model's lane term (suite.model.lane_use) charges a conv to C_out output channels at
C_out / 16 of the matmul peak on AVX-512 (16 f32 lanes), a whole vector from 16 on. This times a
plain stride-1 3x3 conv for C_out = 1..16, in NCHW at the default preset and in NHWC at
channels-last+wide-vectors (the lowering most tuned conv rows take), for a few C_in, each compiled
through the suite's cache and timed by iree-benchmark-module (fastest of 5 samples of >= 50 ms),
and prints its GFLOP/s beside what the lane term gives it.

Measured on the 2-vCPU AMD EPYC VM (2026-12-05, 2 threads, peak 209 GFLOP/s, 64x64):
- NHWC rises with C_out as the term says, below its level, and more so for few input channels:
  C_in 56 ran 5.9, 13, 20, 27, 55 and 109 GFLOP/s at C_out 1, 2, 3, 4, 8, 16 (0.45-0.52 of the
  term), C_in 16 4.7-80 (0.36-0.49), C_in 3 2.7-52 (0.21-0.25);
- NCHW hardly follows C_out: 2.7-16 GFLOP/s at every C_in and C_out up to 16 -- while the sweep's
  NCHW STRD and IREE rows (C_in = C_out = 3, 4x4-6x6 kernels over a zero-inserted input) ran
  45-82 in a default run, 1.2-2.1x the term's 39.
So the rate of IREE's conv code depends on C_in, the kernel and the image as much as on C_out.
Charging the NHWC rows of three default runs at one such curve instead of the term (C_in 16 on
128x128: 5.6, 13, 20, 52, 89, 131; rescored offline) gave a median error of 35.0, 37.3 and 34.9%
against 34.5, 35.8 and 35.5%, and lowered FSRCNN's Kendall tau by 0.04-0.11: a curve measured on
one shape is no better than the term, so the model keeps the term.

Usage: python bench/lane_rates.py [--cin 3 16 56] [--cout 1 2 3 4 8 16] [--hw 64]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

K = 3
LOWERINGS = {"nchw": "default", "nhwc": "channels-last+wide-vectors"}


def conv_mlir(layout: str, ci: int, co: int, hw: int) -> tuple[str, tuple[int, ...]]:
    """A stride-1 KxK conv in ``layout`` as linalg, and its input shape."""
    o = hw - K + 1
    if layout == "nchw":
        x, wt, y, op = f"1x{ci}x{hw}x{hw}", f"{co}x{ci}x{K}x{K}", f"1x{co}x{o}x{o}", "conv_2d_nchw_fchw"
        shape = (1, ci, hw, hw)
    else:
        x, wt, y, op = f"1x{hw}x{hw}x{ci}", f"{K}x{K}x{ci}x{co}", f"1x{o}x{o}x{co}", "conv_2d_nhwc_hwcf"
        shape = (1, hw, hw, ci)
    return f"""func.func @main(%x: tensor<{x}xf32>) -> tensor<{y}xf32> {{
  %w = arith.constant dense<0.5> : tensor<{wt}xf32>
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
    ap.add_argument("--hw", type=int, default=64)
    args = ap.parse_args()

    from suite.build import build_module
    from suite.model import lane_use
    from suite.run import Run, Storage, make_plan
    from targets.iree_run import benchmark_module
    run = Run(make_plan(tune="none", peers="none"), Storage(save=False))
    o = run.options
    profile = run.profile                          # this machine's, calibrated on first use
    print(f"{K}x{K} conv on {args.hw}x{args.hw}, GFLOP/s measured (the lane term's, at the peak "
          f"{profile.peak_flops / 1e9:.0f} over {profile.vector_lanes} lanes)")
    for layout, preset in LOWERINGS.items():
        for ci in args.cin:
            cells = []
            for co in args.cout:
                mlir, shape = conv_mlir(layout, ci, co, args.hw)
                vmfb = build_module(run.cache, mlir, "none", o.target.flags(preset), 600).vmfb
                x = run.cache.input_file(np.full(shape, 0.5, np.float32))
                t = benchmark_module(vmfb, x, o.runtime_flags(), 5, 0.05, 0.02, 600)
                flops = 2 * ci * co * K * K * (args.hw - K + 1) ** 2
                term = profile.peak_flops * lane_use(co, profile.vector_lanes)
                cells.append(f"{co}: {flops / (min(t.samples_ms) / 1e3) / 1e9:5.1f} ({term / 1e9:5.1f})")
            print(f"{layout} at {preset}, C_in {ci:3d}:  " + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()
