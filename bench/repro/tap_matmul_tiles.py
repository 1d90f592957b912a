"""REVD's and STDD's tap matmuls on llvm-cpu: the vector tile IREE picks, and the rate it reaches (prints).

REVD and STDD run one contraction per tap group: out[o, q, a, p, b] = sum_c x[c, q, p] * w[o, a, b, c],
the r x r phases (a, b) of every output pixel from a 1x1 conv over C_in. The model's lane term
(suite/model.py: lane_use) gives it r^2 * C_out lanes of the vector unit: 9 of 16 AVX-512 lanes on
ESPCN, all 16 on FSRCNN at r = 4, 27 (two vectors, 84%) on the sweep at r = 3. Compiled on its own, at
the catalogue's shapes (the sweep's and FSRCNN's grown to 512 x 512 and 128 x 128, so that the call's
fixed cost does not hide the rate), it prints the lowering config IREE picks (as `iree-static` dumps
it) and the GFLOP/s it reaches. On this repository's 2-vCPU znver4 VM (205 GFLOP/s calibrated peak):
- ESPCN (C 32 -> 1, 321 x 481, r = 3): tile [1, 1, 1, 3] over a reduction of 16, 9-12 GFLOP/s;
- the sweep at r = 3 (C 3 -> 3): tile [1, 1, 1, 8, 3] over a reduction of 3, 18-24 GFLOP/s;
- FSRCNN at r = 4 (C 56 -> 1): tile [1, 1, 8, 4] over 14, about 25 GFLOP/s.
That is 4-12% of the peak (three runs), where the lane term expects 56-100% (docs/model-notes.md).

Usage: python bench/repro/tap_matmul_tiles.py [--threads N]
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from suite.build import build_module, static_summary         # noqa: E402
from suite.calibrate import tap_matmul_mlir                   # noqa: E402
from suite.cache import CompileCache                          # noqa: E402
from targets import get_target                                # noqa: E402
from targets.collectors.iree_static import describe_lowering  # noqa: E402
from targets.iree_run import benchmark_module                 # noqa: E402

# (name, C_out, Q, r, P, C_in): the catalogue layers' tap matmuls, the small ones grown (IREE picks the
# same tiles as at 128 x 128 and 32 x 32); IREE drops the unit C_out from its dispatch names
SHAPES = (("espcn", 1, 321, 3, 481, 32), ("sweep-r3", 3, 512, 3, 512, 3), ("fsrcnn-r4", 1, 128, 4, 128, 56))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    cache, target = CompileCache(), get_target("llvm-cpu")
    rng = np.random.default_rng(0)
    for name, co, q, r, p, ci in SHAPES:
        w = rng.standard_normal((co, r, r, ci), dtype=np.float32)
        built = build_module(cache, tap_matmul_mlir(w, q, p), "none", target.flags(), 600)
        lowering = [d for d in static_summary(cache, built, 600)["lowering"] if "matmul" in d["name"]
                    or "generic" in d["name"] or "reduction" in d["name"]]
        x = cache.input_file(rng.random((ci, q, p), dtype=np.float32))
        t = benchmark_module(built.vmfb, x, target.runtime_flags("local-task", args.threads), 5, 0.2, 0.1, 600)
        ms = float(np.median(t.samples_ms))
        macs = co * q * r * p * r * ci
        print(f"{name:10s} {describe_lowering(lowering[0]) if lowering else '?'}")
        print(f"{'':10s} {ms:8.3f} ms  {2 * macs / ms / 1e6:6.1f} GFLOP/s on {args.threads} workers; the lane "
              f"term gives it {r * r * co} lanes")


if __name__ == "__main__":
    main()
