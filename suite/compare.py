"""Comparing run records (pure: no I/O).

Latency uses asv's two gates: a change counts only if it is larger than ``threshold`` AND the
Mann-Whitney U test over the two runs' samples says it is significant (p < alpha); an optional
absolute floor (``min_delta_ms``) keeps microsecond kernels from flagging on machine noise. A change past
the threshold without significance is reported as 'noisy', never as a regression. Deterministic
metrics (verification status, static and simulated counters) are compared exactly: any change is a
behaviour change; more bytes or dispatches is a regression, fewer an improvement.
"""
from __future__ import annotations

import math

from dataclasses import asdict, dataclass

from scipy.stats import mannwhitneyu
from suite.rows import Record, Row

DETERMINISTIC_SOURCES = ("static", "simulated")
REGRESSIONS = ("regressed", "broken", "invalid")     # invalid: a non-finite or non-positive number


@dataclass(frozen=True)
class Change:
    workload: str
    preset: str
    metric: str
    base: float | str | None
    new: float | str | None
    verdict: str               # regressed | improved | similar | noisy | broken | fixed | new | missing | changed
    ratio: float | None = None
    p_value: float | None = None
    deterministic: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def testbed(record: dict) -> tuple:
    m, t = record["machine"], record["target"]
    return (m.get("cpu"), tuple(m.get("cpu_flags") or ()), m.get("cpus_usable"), m.get("arch"),
            t["name"], t["device"], t.get("threads"), record.get("settings", {}).get("malloc", "system"),
            record.get("settings", {}).get("sched", "normal"),
            t.get("runner", "local"))


def emulated(record: dict) -> bool:
    """Timed under an emulation (qemu-user, lavapipe): its latencies are not a device's."""
    return Record(record).emulated


def under_qemu(record: dict) -> bool:
    """A device's code run under qemu-user (here, or on a fleet's emulated device): correct, not timed."""
    return Record(record).under_qemu


def same_testbed(a: dict, b: dict) -> bool:
    """Latencies compare only within one testbed, and never when either side was emulated."""
    return testbed(a) == testbed(b) and not under_qemu(a)


def _rows(record: dict) -> dict[tuple[str, str], Row]:
    return {(r.id, r.preset): r for r in Record(record).rows}


def _deterministic(r: Row) -> dict[str, float]:
    return {f"{c['collector']}:{c['name']}" + (f"@{c['dispatch']}" if c.get("dispatch") else ""): c["value"]
            for c in r.counters if c["source"] in DETERMINISTIC_SOURCES and not c.get("dispatch")}


def latency_verdict(base: list[float], new: list[float], threshold: float, alpha: float,
                    min_delta_ms: float = 0.0) -> tuple[str, float, float]:
    import statistics
    # a sample that is not a finite, positive time is no measurement: never "improved", always a failure
    if not all(math.isfinite(v) and v > 0 for v in (*base, *new)):
        return "invalid", math.nan, math.nan
    ratio = statistics.median(new) / statistics.median(base)
    if abs(statistics.median(new) - statistics.median(base)) < min_delta_ms:
        return "similar", ratio, 1.0                          # below the absolute floor: too small to matter
    try:
        p = float(mannwhitneyu(base, new, alternative="two-sided").pvalue)
    except ValueError:                                        # identical constant samples
        p = 1.0
    if abs(ratio - 1) <= threshold:
        return "similar", ratio, p
    if p >= alpha:
        return "noisy", ratio, p
    return ("regressed" if ratio > 1 else "improved"), ratio, p


def compare_records(base: dict, new: dict, threshold: float = 0.10, alpha: float = 0.01,
                    latency: bool = True, min_delta_ms: float = 0.0) -> list[Change]:
    """Every change from ``base`` to ``new``, workload by workload (matched by id and preset)."""
    out: list[Change] = []
    a, b = _rows(base), _rows(new)
    for key in list(a) + [k for k in b if k not in a]:
        wid, preset = key
        if key not in b:
            out.append(Change(wid, preset, "status", a[key].status, None, "missing", deterministic=True))
            continue
        if key not in a:
            out.append(Change(wid, preset, "status", None, b[key].status, "new", deterministic=True))
            continue
        ra, rb = a[key], b[key]
        if ra.status != rb.status:
            verdict = "broken" if ra.ok else "fixed" if rb.ok else "changed"
            out.append(Change(wid, preset, "status", ra.status, rb.status, verdict, deterministic=True))
        da, db = _deterministic(ra), _deterministic(rb)
        for name in sorted(set(da) | set(db)):
            va, vb = da.get(name), db.get(name)
            if va == vb:
                continue
            if va is None or vb is None:
                verdict = "changed"
            elif not (math.isfinite(va) and math.isfinite(vb)):
                verdict = "invalid"
            else:
                verdict = "regressed" if vb > va else "improved"
            out.append(Change(wid, preset, name, va, vb, verdict,
                              ratio=(vb / va if va and vb is not None else None), deterministic=True))
        if latency and ra.ok and rb.ok and ra.timed_samples and rb.timed_samples:
            verdict, ratio, p = latency_verdict(ra.timed_samples, rb.timed_samples, threshold, alpha, min_delta_ms)
            out.append(Change(wid, preset, "latency_ms", ra.median_ms, rb.median_ms,
                              verdict, ratio, p))
    return out


def regressions(changes: list[Change], latency_fails: bool = True) -> list[Change]:
    return [c for c in changes if c.verdict in REGRESSIONS and (c.deterministic or latency_fails
                                                                 or c.verdict == "invalid")]
