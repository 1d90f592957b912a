"""What each workload must compute and move: MACs and itemised traffic (upsampling.md section 6).

Counts are itemised: every tensor a method or algorithm reads or writes is one :class:`Traffic`
item, with its element count and whether the paper's model charges it (``paper``). The paper's
accounting reproduces its tables; ``full`` also charges what it leaves out (STRD building its
zero-inserted image, TDC's phase sub-outputs). MACs count loop slots as the paper does: STRD's
multiplications by inserted zeros and REVD2's/TDC's padded kernel taps included. Weights are
charged in full: exact whenever the input is at least as large as the kernel (a smaller, heavily
padded input leaves some taps meeting only padding, which then are never read).

The trained methods are counted here; each deconvolution algorithm counts itself (its registry
entry's ``counts``, given the :class:`DeconvGeometry` below). Pure arithmetic: the time and energy
a count costs on a device is `suite.model`'s business.
"""
from __future__ import annotations

from dataclasses import dataclass

from workloads.layer import LayerConfig

ACCOUNTINGS = ("paper", "full")
DTYPE_BYTES = {"f32": 4}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Traffic:
    tensor: str
    kind: str                  # input | weights | output | intermediate
    direction: str             # read | write
    elements: int
    paper: bool                # charged by the paper's model


@dataclass(frozen=True)
class Counts:
    macs: int
    traffic: tuple[Traffic, ...]
    dtype_bytes: int = 4
    note: str = ""
    # the extent of the loop its compiled code vectorises, where that can leave vector lanes idle: a
    # conv's or matmul's output channels (innermost in the channels-last lowerings that win), 1 for a
    # scalar gather; None when it fills the vector (suite.model.lane_use)
    lanes: int | None = None
    # the code its MACs run as, where the vector peak is not its roof: "gather" (each input read with
    # tensor.extract, which IREE leaves scalar); the model charges them at that code's calibrated
    # rate (suite.model.compiled_time, suite.calibrate.CODE_RATES)
    rate: str | None = None

    def charged(self, accounting: str = "paper") -> tuple[Traffic, ...]:
        if accounting not in ACCOUNTINGS:
            raise ValueError(f"accounting must be one of {ACCOUNTINGS}")
        return tuple(t for t in self.traffic if t.paper or accounting == "full")

    def elements(self, accounting: str = "paper", kind: str | None = None) -> int:
        return sum(t.elements for t in self.charged(accounting) if kind is None or t.kind == kind)

    def bytes(self, accounting: str = "paper", kind: str | None = None) -> int:
        return self.elements(accounting, kind) * self.dtype_bytes


def rw(tensor: str, kind: str, n: int, paper_read: bool = True, paper_write: bool = True) -> tuple[Traffic, ...]:
    """An intermediate written once and read once."""
    return (Traffic(tensor, kind, "write", n, paper_write), Traffic(tensor, kind, "read", n, paper_read))


@dataclass(frozen=True)
class DeconvGeometry:
    """The sizes an algorithm's count needs: the layer, its deconvolution kernel Kd, the taps per
    phase T = ceil(Kd/r), the output size and the output lattice per phase (hq x wq)."""
    layer: LayerConfig
    method: str                # D-SP | D-NN
    kd: int
    t: int
    oh: int
    ow: int
    hq: int
    wq: int

    @property
    def size(self) -> int:
        return DTYPE_BYTES[self.layer.dtype]

    @property
    def input(self) -> Traffic:
        lay = self.layer
        return Traffic("input", "input", "read", lay.batch * lay.cin * lay.h * lay.w, True)

    @property
    def output(self) -> Traffic:
        return Traffic("output", "output", "write", self.layer.batch * self.layer.cout * self.oh * self.ow, True)

    @property
    def weights(self) -> Traffic:
        return Traffic("weights", "weights", "read", self.layer.cin * self.layer.cout * self.kd * self.kd, True)


def geometry(layer: LayerConfig, method: str) -> DeconvGeometry:
    k, r = layer.k, layer.r
    oh, ow = layer.out_hw(method)
    kd = r * k if method == "D-SP" else k + r - 1
    return DeconvGeometry(layer, method, kd, ceil_div(kd, r), oh, ow, ceil_div(oh, r), ceil_div(ow, r))


def counts(layer: LayerConfig, method: str, algorithm: str | None = None) -> Counts:
    """MACs and traffic of one workload, for any batch, channels, padding and r."""
    n, ci, co, h, w, k, r = layer.batch, layer.cin, layer.cout, layer.h, layer.w, layer.k, layer.r
    oh, ow = layer.out_hw(method)
    x = Traffic("input", "input", "read", n * ci * h * w, True)
    y = Traffic("output", "output", "write", n * co * oh * ow, True)
    size = DTYPE_BYTES[layer.dtype]
    if method == "C-SP":
        hc, wc = layer.conv_out_hw
        conv_out = n * r * r * co * hc * wc
        return Counts(n * r * r * co * ci * k * k * hc * wc, (
            x, Traffic("weights", "weights", "read", r * r * co * ci * k * k, True),
            *rw("conv output (before pixel shuffle)", "intermediate", conv_out), y), size, lanes=r * r * co)
    if method in ("C-NN", "C-BL"):
        up = n * ci * (r * h) * (r * w)
        return Counts(n * co * ci * k * k * oh * ow, (
            x, *rw("resized image", "intermediate", up),
            Traffic("weights", "weights", "read", co * ci * k * k, True), y), size, lanes=co)
    if method not in ("D-SP", "D-NN"):
        raise ValueError(f"unknown method {method}")
    from workloads.algorithms import ALGORITHMS                # the registry imports this module
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    return ALGORITHMS[algorithm].counts(geometry(layer, method))
