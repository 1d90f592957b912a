"""Deconvolution algorithms: one registry, each entry says how it reaches IREE.

An algorithm turns a :class:`~workloads.transforms.Deconv` and an input size into a *lowering*:
either a torch ``nn.Module`` (exported through iree-turbine) or hand-written MLIR text, chosen per
algorithm so that IREE sees that algorithm's real data movement. See each module's docstring.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from workloads.algorithms.iree_native import IreeNative
from workloads.algorithms.revd import Revd
from workloads.algorithms.revd2 import revd2_mlir
from workloads.algorithms.stdd import Stdd
from workloads.algorithms.strd import Strd
from workloads.algorithms.tdc import Tdc
from workloads.algorithms.tdc_fused import TdcFused


@dataclass(frozen=True)
class Lowering:
    """How a workload reaches IREE: a torch module to export, or MLIR text ready to compile."""
    module: nn.Module | None = None
    mlir: str | None = None
    # an IREE llvm-cpu tuning spec (transform dialect) written for this module's own shapes
    tuning_spec: str | None = None


@dataclass(frozen=True)
class Algorithm:
    name: str
    summary: str
    lower: Callable[..., Lowering]     # (deconv, batch, h, w, layout="nchw"); torch modules are NCHW
    doc: str = ""
    blocked: bool = False              # has a form for the nhwc-blocked layout (its conv blocked)


def _torch(cls) -> Callable[..., Lowering]:
    # NCHW modules; Workload puts an NHWC interface around them when the layer asks for one
    return lambda d, n, h, w, layout="nchw": Lowering(module=cls(d, h, w).eval())


def _tdcf(d, n, h, w, layout="nchw") -> Lowering:
    module = TdcFused(d, h, w, batch=n if layout == "nhwc-blocked" else None).eval()
    return Lowering(module=module, tuning_spec=module.tuning_spec())


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("IREE", "IREE's own lowering of the transposed convolution", _torch(IreeNative),
              IreeNative.__module__),
    Algorithm("STDD", "input-stationary scatter with overlapping partial sums", _torch(Stdd), Stdd.__module__),
    Algorithm("STRD", "zero insertion, then a dense stride-1 convolution", _torch(Strd), Strd.__module__),
    Algorithm("REVD", "reverse looping: per tap, gather inputs for its output lattice", _torch(Revd),
              Revd.__module__),
    Algorithm("REVD2", "output-stationary, stride holes skipped in kernel space (hand-written linalg)",
              lambda d, n, h, w, layout="nchw": Lowering(mlir=revd2_mlir(d, n, h, w, layout)),
              revd2_mlir.__module__),
    Algorithm("TDC", "r^2 low-resolution convolutions, then interleave", _torch(Tdc), Tdc.__module__),
    Algorithm("TDCF", "TDC fused: one low-resolution convolution to r^2*C_out channels, then pixel shuffle",
              _tdcf, TdcFused.__module__, blocked=True),
)}


def algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name.upper()]
    except KeyError:
        from suite.errors import UserError
        raise UserError(f"unknown algorithm {name!r} (known: {', '.join(ALGORITHMS)})") from None
