"""The analytical model's costs: the time and energy a workload's counts (`workloads.counts`,
each algorithm counting itself) cost on a device profile (upsampling.md section 6; Choi et al.'s
roofline model of energy).

    T = max(MACs * flops_per_mac / peak_flops, bytes / bandwidth)
    E = MACs * flops_per_mac * pJ_per_flop + bytes * pJ_per_byte + static_watts * T

The compiled-code terms (``compiled_time``) add what a compiled module costs beyond the paper's
model, none fitted to the layers predicted: a call's fixed cost and a cost per dispatch (measured
by calibration), the bytes IREE's dispatches really bind (the copies it materialises, read off the
module), the vector lanes a conv's output channels leave idle (``lane_use``: the lanes are the
target CPU's f32 vector width, the channels the workload's own counts) -- or, for a conv IREE
vectorises along its output width (NCHW), the FMA latency its few independent sums leave unhidden
(``latency_use``: their lanes read off the compiled code, against the lanes in flight calibrated to
hide it) --, for code that does not run at the vector peak (REVD2's tensor.extract gather; REVD's
and STDD's tap matmuls, whose vector tiles IREE fills far less than their channels would fill the
lanes), the rate calibrated for that code, and the pages a call touches fresh (counted by the
kernel, targets.collectors.page_faults) at the calibrated cost of a faulted byte.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from workloads.counts import Counts


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
    call_s: float | None = None        # a call's fixed cost, with one dispatch (calibrated; None: not measured)
    dispatch_s: float | None = None    # the fixed cost of each further dispatch (calibrated)
    vector_lanes: int | None = None    # f32 lanes of the target CPU's vectors (None: not a CPU, or unknown)
    gather_flops: float | None = None  # FLOP/s of a loop that gathers its input element by element (calibrated)
    tap_flops: float | None = None     # FLOP/s of REVD's and STDD's tap matmuls, the phases innermost (calibrated)
    fault_s_per_byte: float | None = None  # what a page touched fresh costs a call, per byte (calibrated)
    latency_lanes: float | None = None  # accumulator lanes in flight that reach the FMA peak (calibrated)
    cache_bandwidth: float | None = None  # bytes/s within the last-level cache (calibrated)
    cache_bytes: int | None = None     # the last-level cache's size (this host's CPU)

    def rate(self, name: str | None) -> float | None:
        """The calibrated FLOP/s of the code a workload's counts name (Counts.rate), None if unmeasured."""
        return {"gather": self.gather_flops, "tap": self.tap_flops}.get(name or "")

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


def lane_use(lanes: int | None, width: int | None) -> float:
    """The share of the vector unit a loop over ``lanes`` elements keeps busy: a conv to 1 output
    channel fills 1 of 16 AVX-512 lanes, one to 9 channels 9 of 16, one to 48 all three vectors."""
    if not lanes or not width:
        return 1.0
    return lanes / (width * math.ceil(lanes / width))


def latency_use(in_flight: float | None, latency_lanes: float | None) -> float | None:
    """The share of the FMA peak a loop keeps with ``in_flight`` accumulator lanes: each FMA waits for
    the last one into its sum, so the peak needs ``latency_lanes`` of them in flight (the FMA's
    latency times the lanes issued a cycle, 4 x 16 = 64 on Zen 4; calibrated, 46-56 on this VM).
    IREE 3.13 runs a conv in NCHW as 8-lane vectors along its output width, one sum per output
    channel it unrolls (sweep-r2's 3 -> 3 convs: 3 sums, 24 lanes, 0.37 of the peak where the
    channel lane term gave 3/16); None where either is unknown."""
    if not in_flight or not latency_lanes:
        return None
    return min(1.0, in_flight / latency_lanes)


def moving_bandwidth(profile: Profile, footprint_bytes: float | None) -> float:
    """The bandwidth a data-moving dispatch reaches: within the last-level cache where the call's
    footprint fits in it (both calibrated or read on this host), else the memory's."""
    if profile.cache_bandwidth and profile.cache_bytes and footprint_bytes is not None \
            and footprint_bytes <= profile.cache_bytes:
        return profile.cache_bandwidth
    return profile.bandwidth


def compiled_time(e: Estimate, profile: Profile, static_bytes: float | None, dispatches: int | None,
                  lanes: int | None = None, rate: str | None = None,
                  faulted_bytes: float | None = None, in_flight: float | None = None,
                  moving_bytes: float | None = None, footprint_bytes: float | None = None) -> float | None:
    """Seconds the compiled module should take: the compute roof at the vector lanes its loop fills
    (``lane_use``), or for a conv vectorised along its output width at the share of the peak its
    accumulator lanes in flight keep (``latency_use``), or at the calibrated rate of the code its
    counts name (``rate``) where the profile has one, the memory roof on the bytes its dispatches
    bind, plus the calibrated fixed costs of the call and of each further
    dispatch, plus the pages a call touches fresh (``faulted_bytes``, where counted) at the
    calibrated cost of a faulted byte: the kernel zeroes and maps them while the dispatches wait, so
    that cost adds to the roofs rather than overlapping them. ``moving_bytes``: what the call's
    dispatches that only move data bind (a resize, a shuffle, a layout copy; where counted). They
    run between the compute dispatches, not under them, so their bytes are charged after the roofs
    (which then take the other dispatches' bytes alone), at the calibrated bandwidth within the
    last-level cache where the call's ``footprint_bytes`` fits in it: each reads what the dispatch
    before it just wrote. ``dispatches``: those of a call (not the initializers', which run once
    when the module loads). None when the profile has no measured fixed costs or the module's
    counts are missing.

    On seven two-worker default runs of 2026-12-05, rescored offline with one calibrated profile,
    the moving dispatches' term took the sweep's Kendall tau at r2 / r3 / r4 from 0.63-0.75 /
    0.73-0.82 / 0.81-0.86 to 0.79-0.86 / 0.82-0.91 / 0.83-0.90, ESPCN's up by 0.02-0.03 and
    FSRCNN's down by up to 0.04, and the median error from 29-32% to 26-30%. Charged at the DRAM
    bandwidth instead, it overcharged the small layers' shuffles (sweep-r4's C-SP: 0.47 ms
    predicted, 0.37 measured): r2 0.73-0.79, r4 0.74-0.81."""
    if profile.call_s is None or profile.dispatch_s is None or static_bytes is None or not dispatches:
        return None
    if profile.rate(rate):
        t_c = e.flops / profile.rate(rate)
    else:
        t_c = e.t_compute / (latency_use(in_flight, profile.latency_lanes) or lane_use(lanes, profile.vector_lanes))
    if moving_bytes is None:
        t_m, t_move = max(e.bytes, static_bytes) / profile.bandwidth, 0.0
    else:
        t_m, t_move = max(0.0, static_bytes - moving_bytes) / profile.bandwidth, moving_bytes / moving_bandwidth(
            profile, footprint_bytes)
    t_fault = (faulted_bytes or 0.0) * (profile.fault_s_per_byte or 0.0)
    return max(t_c, t_m) + t_move + profile.call_s + (dispatches - 1) * profile.dispatch_s + t_fault
