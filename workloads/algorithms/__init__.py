"""Deconvolution algorithms: one registry, each entry says how it reaches IREE.

An algorithm turns a :class:`~workloads.transforms.Deconv` and an input size into a *lowering*:
either a torch ``nn.Module`` (exported through iree-turbine) or hand-written MLIR text, chosen per
algorithm so that IREE sees that algorithm's real data movement. See each module's docstring.

Every fact about an algorithm lives in its entry: how it lowers, its counts for the analytical
model, whether it has a torch form (what `suite deploy` can put in a network), and its
instrumented loop nest (the model's independent check). Adding an algorithm is one module and one
line here; tests/test_algorithms.py checks that every entry has all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from workloads import loopnests
from workloads.algorithms import iree_native, revd, revd2, revd2_hw, stdd, strd, tdc, tdc_fused
from workloads.algorithms.iree_native import IreeNative
from workloads.algorithms.revd import Revd
from workloads.algorithms.revd2 import revd2_mlir
from workloads.algorithms.revd2_hw import revd2_hw_mlir
from workloads.algorithms.stdd import Stdd
from workloads.algorithms.strd import Strd
from workloads.algorithms.tdc import Tdc
from workloads.algorithms.tdc_fused import TdcFused
from workloads.counts import Counts, DeconvGeometry
from workloads.errors import UserError


@dataclass(frozen=True)
class Lowering:
    """How a workload reaches IREE: a torch module to export, or MLIR text ready to compile."""
    module: nn.Module | None = None
    mlir: str | None = None
    # an IREE llvm-cpu tuning spec (transform dialect) written for this module's own shapes
    tuning_spec: str | None = None
    input_type: str = "none"           # of the MLIR text: "none" (linalg), "onnx" (iree-import-onnx's output)


@dataclass(frozen=True)
class Algorithm:
    name: str
    summary: str
    lower: Callable[..., Lowering]     # (deconv, batch, h, w, layout="nchw"); torch modules are NCHW
    counts: Callable[[DeconvGeometry], Counts]      # MACs and traffic, for the analytical model
    loop_nest: Callable | None         # (deconv, x) -> (y, tracker): instrumented plain-Python loop nest
    doc: str = ""
    blocked: bool = False              # has a form for the nhwc-blocked layout (its conv blocked)
    torch_form: bool = True            # lowers to a torch module, so a network can be deployed with it
    # a hand-written kernel rather than IREE's code generation: which CPU architectures it is built for
    # (``uname -m`` spelling), and why it cannot be built here (None: it can)
    hand_written: tuple[str, ...] = ()
    unavailable: Callable[[], str | None] = lambda: None
    # the layouts worth a tuner's search (None: every one); a layout the kernel does not read only adds transposes
    tuned_layouts: tuple[str, ...] | None = None
    # other formulations of the same algorithm that the tuner may try (``lower(..., form=)``): every
    # form's name, and those that change a given layer's module, (deconv, h, w) -> names
    form_names: tuple[str, ...] = ()
    forms: Callable[..., tuple[str, ...]] = lambda d, h, w: ()

    def runs_on(self, cpu_arch: str | None) -> bool:
        """Whether the algorithm has a form for a target of this CPU architecture (None: not a CPU)."""
        return not self.hand_written or cpu_arch in self.hand_written

    @property
    def label(self) -> str:
        """The name with what tables must say about it."""
        return f"{self.name} (hand-written)" if self.hand_written else self.name


def _torch(cls) -> Callable[..., Lowering]:
    # NCHW modules; Workload puts an NHWC interface around them when the layer asks for one
    return lambda d, n, h, w, layout="nchw": Lowering(module=cls(d, h, w).eval())


def _revd(d, n, h, w, layout="nchw", form="") -> Lowering:
    return Lowering(module=Revd(d, h, w, form).eval())


def _tdcf(d, n, h, w, layout="nchw") -> Lowering:
    module = TdcFused(d, h, w, batch=n if layout == "nhwc-blocked" else None).eval()
    return Lowering(module=module, tuning_spec=module.tuning_spec())


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("IREE", "IREE's own lowering of the transposed convolution", _torch(IreeNative), iree_native.counts,
              None, IreeNative.__module__),     # IREE's lowering has no loop nest of ours; modelled as STRD
    Algorithm("STDD", "input-stationary scatter with overlapping partial sums", _torch(Stdd), stdd.counts,
              loopnests.stdd, Stdd.__module__),
    Algorithm("STRD", "zero insertion, then a dense stride-1 convolution", _torch(Strd), strd.counts,
              loopnests.strd, Strd.__module__),
    Algorithm("REVD", "reverse looping: per tap, gather inputs for its output lattice", _revd, revd.counts,
              loopnests.revd, Revd.__module__, form_names=tuple(revd.FORMS), forms=revd.forms),
    Algorithm("REVD2", "output-stationary, stride holes skipped in kernel space (hand-written linalg)",
              lambda d, n, h, w, layout="nchw": Lowering(mlir=revd2_mlir(d, n, h, w, layout)), revd2.counts,
              loopnests.revd2, revd2_mlir.__module__, torch_form=False),
    Algorithm("REVD2-HW", "REVD2 as a hand-written C kernel in an IREE custom dispatch (not IREE's codegen)",
              lambda d, n, h, w, layout="nchw": Lowering(mlir=revd2_hw_mlir(d, n, h, w, layout)), revd2_hw.counts,
              loopnests.revd2, revd2_hw_mlir.__module__, torch_form=False, hand_written=revd2_hw.CPU_ARCHS,
              unavailable=revd2_hw.missing_tool, tuned_layouts=("nchw",)),
    Algorithm("TDC", "r^2 low-resolution convolutions, then interleave", _torch(Tdc), tdc.counts, loopnests.tdc,
              Tdc.__module__),
    Algorithm("TDCF", "TDC fused: one low-resolution convolution to r^2*C_out channels, then pixel shuffle",
              _tdcf, tdc_fused.counts, loopnests.tdcf, TdcFused.__module__, blocked=True),
)}

TORCH_ALGORITHMS = tuple(a.name for a in ALGORITHMS.values() if a.torch_form)


def algorithm_label(name: str | None) -> str:
    """How tables show an algorithm: a hand-written kernel says so wherever it appears."""
    a = ALGORITHMS.get(name or "")
    return a.label if a else (name or "-")


def algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name.upper()]
    except KeyError:
        raise UserError(f"unknown algorithm {name!r} (known: {', '.join(ALGORITHMS)})") from None
