"""The model held against the measurement: per workload predicted vs measured latency, per layer
the rank agreement (Kendall tau) of the model's ordering with the machine's, across the run the
median absolute percentage error, and plain statements of where the two disagree."""
from __future__ import annotations

import statistics
from itertools import groupby

from scipy.stats import kendalltau

from suite.model import Estimate, Profile, compiled_time, estimate
from workloads.algorithms import algorithm_label
from workloads.counts import counts
from suite.rows import Row, as_row


def model_entry(layer, method: str, algorithm: str | None, profile: Profile, accounting: str) -> dict:
    return entry_from_counts(counts(layer, method, algorithm), profile, accounting)


def entry_from_counts(c, profile: Profile, accounting: str) -> dict:
    e = estimate(c, profile, accounting)
    return {"profile": profile.name, "accounting": accounting, "macs": c.macs, "flops": e.flops,
            "bytes": e.bytes, "bytes_full": c.bytes("full"), "intensity": e.intensity, "bound": e.bound,
            "t_ms": e.time * 1e3, "energy_mj": None if e.energy is None else e.energy * 1e3, "lanes": c.lanes,
            "rate": c.rate}


def _label(r: Row) -> str:
    return r.method + (f" {algorithm_label(r.algorithm)}" if r.algorithm else "")


def add_compiled_terms(entry: dict, row: dict, profile: Profile) -> None:
    """The model with the compiled module's terms (suite.model.compiled_time) beside the paper's:
    the bytes its dispatches bind and its dispatch count, read off the module by iree-static, and
    the vector lanes its conv's channels fill (or, vectorised along its output width, its
    accumulator lanes in flight, read off its code by iree-static), the code its MACs run as, the
    bytes of its dispatches that only move data and its footprint (iree-static), and the pages a
    call touches fresh, counted by page-faults."""
    from targets.collectors.iree_static import DISPATCHES, IN_FLIGHT, INITIALIZERS, MOVEMENT, TRANSIENT
    from targets.collectors import page_faults, traffic_column
    r, found = as_row(row), traffic_column("static")
    static = r.counter_total(found[0], found[1].names) if found else None
    n = r.counter_total(*DISPATCHES)
    if n is not None:                          # a call's own: the initializers' run once, at load
        n -= r.counter_total(*INITIALIZERS) or 0.0
    faulted = r.counter_total(page_faults.NAME, (page_faults.FAULTED,))
    in_flight = next((v for v, _ in r.dispatch_values(IN_FLIGHT[0], IN_FLIGHT[1][0])), None)
    e = Estimate(entry["flops"], entry["bytes"], entry["flops"] / profile.peak_flops,
                 entry["bytes"] / profile.bandwidth, None)
    moving = r.counter_total(*MOVEMENT)
    transient = r.counter_total(*TRANSIENT)
    footprint = None if transient is None else transient + entry["bytes"]    # its buffers, and its I/O and weights
    t = compiled_time(e, profile, static, int(n) if n else None, entry.get("lanes"),
                      entry.get("rate"), faulted, in_flight, moving, footprint)
    entry["t_compiled_ms"] = None if t is None else t * 1e3
    entry["faulted_bytes"] = faulted
    entry["lanes_in_flight"] = in_flight
    entry["moving_bytes"] = moving


def _tau(pred: list[float], meas: list[float]) -> float | None:
    tau, _ = kendalltau(pred, meas)
    return None if tau != tau else float(tau)


def agreement(rows: list) -> dict:
    """Rank agreement per layer and the run's median absolute percentage error: of the paper's model,
    and of the model with the compiled module's terms where the profile has them."""
    layers = {}
    errors, compiled_errors = [], []
    for layer, group in groupby(map(as_row, rows), key=lambda r: r.layer):
        ok = [r for r in group if r.ok and r.model_ms and r.median_ms]
        for r in ok:
            errors.append(abs(r.model_ms - r.median_ms) / r.median_ms)
        both = [r for r in ok if r.model.get("t_compiled_ms")]
        compiled_errors += [abs(r.model["t_compiled_ms"] - r.median_ms) / r.median_ms for r in both]
        if len(ok) < 2:
            continue
        tau, p = kendalltau([r.model_ms for r in ok], [r.median_ms for r in ok])
        best_model = min(ok, key=lambda r: r.model_ms)
        best_meas = min(ok, key=lambda r: r.median_ms)
        layers[layer] = {"kendall_tau": None if tau != tau else float(tau), "p_value": None if p != p else float(p),
                         "n": len(ok), "best_by_model": _label(best_model), "best_measured": _label(best_meas),
                         "statements": statements(ok),
                         "kendall_tau_compiled": _tau([r.model["t_compiled_ms"] for r in both],
                                                      [r.median_ms for r in both]) if len(both) == len(ok) else None}
    return {"layers": layers, "mdape_percent": 100 * statistics.median(errors) if errors else None,
            "n": len(errors),
            "mdape_compiled_percent": 100 * statistics.median(compiled_errors) if compiled_errors else None}


def statements(ok: list[Row]) -> list[str]:
    """Where model and machine disagree, in words."""
    out = []
    best_model = min(ok, key=lambda r: r.model_ms)
    best_meas = min(ok, key=lambda r: r.median_ms)
    if best_model is not best_meas:
        out.append(f"the model expects {_label(best_model)} to be fastest; on this machine {_label(best_meas)} is "
                   f"({best_model.median_ms / best_meas.median_ms:.1f}x faster than {_label(best_model)})")
    for r in ok:
        x = r.median_ms / r.model_ms
        if x < 0.8:
            out.append(f"{_label(r)} beats its roofline floor ({x:.2f}x): the compiled code moves or computes less "
                       "than the model charges (a fused feature-map transform, or data kept in cache)")
    worst = max(ok, key=lambda r: r.median_ms / r.model_ms)
    x = worst.median_ms / worst.model_ms
    if x > 4:
        out.append(f"{_label(worst)} runs {x:.0f}x above its {worst.model['bound']}-bound floor: its lowering, "
                   "not its algorithm, sets its speed")
    return out
