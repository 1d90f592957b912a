"""A run's result rows: the status values a row can have, and selections over rows."""
from __future__ import annotations

STATUS_OK = "ok"
STATUS_WRONG = "wrong"                 # ran, but its output is not the trained layer's
STATUS_COMPILED = "compiled"           # compile-only target: built (and statically counted), not run
STATUS_REFUSED = "refused"             # a peer runtime that cannot take the workload at all (the reason says why)
# any other status is "<stage>-failed": export, compile, run, time, model


def is_ok(row: dict) -> bool:
    return row["status"] == STATUS_OK


def best_per_workload(rows: list[dict]) -> list[dict]:
    """One row per workload id, in first-seen order: its fastest verified preset, else its first
    verified one (verify-only runs have no times), else its first row."""
    order, best = [], {}
    for r in rows:
        cur = best.get(r["id"])
        if cur is None:
            order.append(r["id"])
            best[r["id"]] = r
        elif is_ok(r) and (not is_ok(cur) or _median(r) < _median(cur)):
            best[r["id"]] = r
    return [best[i] for i in order]


def _median(row: dict) -> float:
    return row["stats_ms"]["median"] if row.get("stats_ms") else float("inf")


def counter_total(row: dict, collector: str, names: tuple[str, ...]) -> float | None:
    """The sum of a row's whole-call counters ``names`` from ``collector``; None unless all are there."""
    vals = {c["name"]: c["value"] for c in row.get("counters", [])
            if c["collector"] == collector and not c.get("dispatch") and c["name"] in names}
    return float(sum(vals.values())) if len(vals) == len(names) else None


def column_value(row: dict, collector: str, column) -> float | None:
    """A collector's report column (targets.collectors.Column) for one row."""
    return counter_total(row, collector, column.names)
