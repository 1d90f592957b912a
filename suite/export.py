"""Lowering -> MLIR text: torch modules through iree-turbine's AOT export, hand-written MLIR as is."""
from __future__ import annotations

import warnings

import torch

from workloads.algorithms import Lowering


def to_mlir(lowering: Lowering, example: torch.Tensor) -> tuple[str, str]:
    """Return (mlir_text, iree_input_type). Weights are frozen into the module as constants."""
    if lowering.mlir is not None:
        return lowering.mlir, lowering.input_type
    import iree.turbine.aot as aot
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # turbine 3.9 + torch 2.13: harmless treespec/numpy-2 warnings
        # non-strict: torch.export's own default since 2.7, tracing in Python rather than through
        # dynamo; the same MLIR on all 105 exports of a sweep, an FSRCNN and the ESPCN layer in
        # every layout, in 51 s against 64 s
        exported = aot.export(lowering.module, args=(example,), strict_export=False)
        return str(exported.mlir_module), "torch"
