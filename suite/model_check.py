"""The model held against the measurement: per workload predicted vs measured latency, per layer
the rank agreement (Kendall tau) of the model's ordering with the machine's, across the run the
median absolute percentage error, and plain statements of where the two disagree."""
from __future__ import annotations

import statistics
from itertools import groupby

from scipy.stats import kendalltau

from suite.model import Profile, estimate
from workloads.counts import counts
from suite.rows import Row, as_row


def model_entry(layer, method: str, algorithm: str | None, profile: Profile, accounting: str) -> dict:
    return entry_from_counts(counts(layer, method, algorithm), profile, accounting)


def entry_from_counts(c, profile: Profile, accounting: str) -> dict:
    e = estimate(c, profile, accounting)
    return {"profile": profile.name, "accounting": accounting, "macs": c.macs, "flops": e.flops,
            "bytes": e.bytes, "bytes_full": c.bytes("full"), "intensity": e.intensity, "bound": e.bound,
            "t_ms": e.time * 1e3, "energy_mj": None if e.energy is None else e.energy * 1e3}


def _label(r: Row) -> str:
    return r.method + (f" {r.algorithm}" if r.algorithm else "")


def agreement(rows: list) -> dict:
    """Rank agreement per layer and the run's median absolute percentage error."""
    layers = {}
    errors = []
    for layer, group in groupby(map(as_row, rows), key=lambda r: r.layer):
        ok = [r for r in group if r.ok and r.model_ms and r.median_ms]
        for r in ok:
            errors.append(abs(r.model_ms - r.median_ms) / r.median_ms)
        if len(ok) < 2:
            continue
        tau, p = kendalltau([r.model_ms for r in ok], [r.median_ms for r in ok])
        best_model = min(ok, key=lambda r: r.model_ms)
        best_meas = min(ok, key=lambda r: r.median_ms)
        layers[layer] = {"kendall_tau": None if tau != tau else float(tau), "p_value": None if p != p else float(p),
                         "n": len(ok), "best_by_model": _label(best_model), "best_measured": _label(best_meas),
                         "statements": statements(ok)}
    return {"layers": layers, "mdape_percent": 100 * statistics.median(errors) if errors else None,
            "n": len(errors)}


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
