"""The analytical model: what each workload must compute and move, and the time and energy that
costs on a device profile (upsampling.md section 6; Choi et al.'s roofline model of energy).

Counts are itemised: every tensor a method or algorithm reads or writes is one :class:`Traffic`
item, with its element count and whether the paper's model charges it (``paper``). The paper's
accounting reproduces its tables; ``full`` also charges what it leaves out (STRD building its
zero-inserted image, TDC's phase sub-outputs). MACs count loop slots as the paper does: STRD's
multiplications by inserted zeros and REVD2's/TDC's padded kernel taps included. Weights are
charged in full: exact whenever the input is at least as large as the kernel (a smaller, heavily
padded input leaves some taps meeting only padding, which then are never read).

    T = max(MACs * flops_per_mac / peak_flops, bytes / bandwidth)
    E = MACs * flops_per_mac * pJ_per_flop + bytes * pJ_per_byte + static_watts * T
"""
from __future__ import annotations

from dataclasses import dataclass

from workloads.algorithms.common import ceil_div
from workloads.layer import LayerConfig

ACCOUNTINGS = ("paper", "full")
DTYPE_BYTES = {"f32": 4}


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

    def charged(self, accounting: str = "paper") -> tuple[Traffic, ...]:
        if accounting not in ACCOUNTINGS:
            raise ValueError(f"accounting must be one of {ACCOUNTINGS}")
        return tuple(t for t in self.traffic if t.paper or accounting == "full")

    def elements(self, accounting: str = "paper", kind: str | None = None) -> int:
        return sum(t.elements for t in self.charged(accounting) if kind is None or t.kind == kind)

    def bytes(self, accounting: str = "paper", kind: str | None = None) -> int:
        return self.elements(accounting, kind) * self.dtype_bytes


def _rw(tensor: str, kind: str, n: int, paper_read: bool = True, paper_write: bool = True) -> tuple[Traffic, ...]:
    """An intermediate written once and read once."""
    return (Traffic(tensor, kind, "write", n, paper_write), Traffic(tensor, kind, "read", n, paper_read))


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
            *_rw("conv output (before pixel shuffle)", "intermediate", conv_out), y), size)
    if method in ("C-NN", "C-BL"):
        up = n * ci * (r * h) * (r * w)
        return Counts(n * co * ci * k * k * oh * ow, (
            x, *_rw("resized image", "intermediate", up),
            Traffic("weights", "weights", "read", co * ci * k * k, True), y), size)
    if method not in ("D-SP", "D-NN"):
        raise ValueError(f"unknown method {method}")
    kd = r * k if method == "D-SP" else k + r - 1
    t = ceil_div(kd, r)
    hq, wq = ceil_div(oh, r), ceil_div(ow, r)
    wd = Traffic("weights", "weights", "read", ci * co * kd * kd, True)
    if algorithm in ("STRD", "IREE"):
        hz, wz = (h - 1) * r + 1, (w - 1) * r + 1
        note = ("IREE's own lowering (torch-mlir: zero insertion + conv) is modelled as STRD"
                if algorithm == "IREE" else "")
        return Counts(n * ci * co * kd * kd * oh * ow, (
            Traffic("input", "input", "read", n * ci * h * w, False),
            *_rw("zero-inserted image", "intermediate", n * ci * hz * wz, paper_read=True, paper_write=False),
            wd, y), size, note)
    if algorithm == "STDD":
        return Counts(n * ci * co * kd * kd * h * w, (x, wd, y), size,
                      "overlapping partial sums are not charged (as in the paper)")
    if algorithm == "REVD":
        return Counts(n * ci * co * kd * kd * hq * wq, (x, wd, y), size)
    if algorithm == "REVD2":
        return Counts(n * ci * co * t * t * oh * ow, (x, wd, y), size)
    if algorithm == "TDC":
        subkernels = Traffic("weights", "weights", "read", ci * co * t * t * r * r, True)
        return Counts(n * ci * co * t * t * r * r * hq * wq, (
            x, subkernels, *_rw("phase sub-outputs", "intermediate", n * co * r * r * hq * wq, False, False), y),
            size, "the sub-outputs are not charged by the paper (interleave folded into addressing)")
    if algorithm == "TDCF":
        top, _, left, _ = layer.pads
        crop = (r * (k - 1 - top), r * (k - 1 - left)) if method == "D-SP" else (k - 1 - top, k - 1 - left)
        th, tw = (t + (r - 1 + c) // r - c // r for c in crop)      # T' = T + max shift - min shift
        return Counts(n * ci * co * th * tw * r * r * hq * wq, (
            x, Traffic("weights", "weights", "read", ci * co * th * tw * r * r, True),
            *_rw("fused conv output (before pixel shuffle)", "intermediate", n * co * r * r * hq * wq, False, False),
            y), size, "MACs include the zero taps that align the phases' shifts; the conv output is TDC's "
                      "sub-outputs, not charged by the paper")
    raise ValueError(f"unknown algorithm {algorithm!r}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    source: str
    peak_flops: float                  # FLOP/s
    bandwidth: float                   # bytes/s
    flops_per_mac: int = 2
    pj_per_flop: float | None = None
    pj_per_byte: float | None = None
    static_watts: float | None = None
    estimate: bool = False             # constants derived or borrowed rather than measured
    measured_here: bool = False        # calibrated on this very machine
    machine: dict | None = None
    extra: dict | None = None

    @property
    def has_energy(self) -> bool:
        return None not in (self.pj_per_flop, self.pj_per_byte, self.static_watts)


@dataclass(frozen=True)
class Estimate:
    flops: float
    bytes: float
    t_compute: float                   # seconds
    t_memory: float
    energy: float | None               # joules, None when the profile has no energy constants

    @property
    def time(self) -> float:
        return max(self.t_compute, self.t_memory)

    @property
    def bound(self) -> str:
        return "compute" if self.t_compute >= self.t_memory else "memory"

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else float("inf")


def estimate(c: Counts, profile: Profile, accounting: str = "paper") -> Estimate:
    flops = c.macs * profile.flops_per_mac
    q = c.bytes(accounting)
    t_c, t_m = flops / profile.peak_flops, q / profile.bandwidth
    energy = None
    if profile.has_energy:
        energy = (flops * profile.pj_per_flop + q * profile.pj_per_byte) * 1e-12 + profile.static_watts * max(t_c, t_m)
    return Estimate(flops, q, t_c, t_m, energy)
