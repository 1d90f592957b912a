"""IREE 3.13's ONNX path computes DepthToSpace in CRD mode wrongly unless C_out == r (prints).

One DepthToSpace node, opset 17, input 1 x C x 5 x 6, compiled by iree-import-onnx + iree-compile
for llvm-cpu and compared with onnxruntime. DCR is right everywhere; CRD only where C/(r*r) == r,
which is why the qonnx ESPCN sub-pixel model (27 channels, r 3) runs right and a 3-channel r = 2
shuffle does not. workloads/onnx_deploy.py writes CRD shuffles in its deployed graphs as
Reshape-Transpose-Reshape (ONNX's own definition), which IREE compiles right.

Usage: python bench/repro/onnx_depthtospace_crd.py
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from onnx import TensorProto, helper                          # noqa: E402

from suite.build import build_module                          # noqa: E402
from suite.cache import CompileCache                          # noqa: E402
from targets import get_target                                # noqa: E402
from targets.iree_run import run_module                       # noqa: E402
from workloads.onnx_graph import run_ort, to_iree_mlir        # noqa: E402


def main() -> None:
    cache = CompileCache()
    for mode in ("CRD", "DCR"):
        for c, r in ((4, 2), (8, 2), (12, 2), (18, 3), (27, 3), (48, 4)):
            x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 5, 6])
            y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c // (r * r), 5 * r, 6 * r])
            graph = helper.make_graph([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=r, mode=mode)],
                                      "d2s", [x], [y])
            model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
            model.ir_version = 8
            xv = np.random.default_rng(0).random((1, c, 5, 6), dtype=np.float32)
            built = build_module(cache, to_iree_mlir(model), "onnx", get_target("llvm-cpu").flags(), 600)
            out, _ = run_module(built.vmfb, cache.input_file(xv), ["--device=local-sync"], 60)
            err = float(np.abs(out - run_ort(model, xv)).max())
            print(f"{mode} C {c:2d} r {r} (C_out {c // (r * r)}): max |IREE - onnxruntime| = {err:.3g}"
                  + ("   WRONG" if err > 1e-6 else ""))


if __name__ == "__main__":
    main()
