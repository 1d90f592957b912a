"""Selections over a run's result rows."""
from __future__ import annotations


def best_per_workload(rows: list[dict]) -> list[dict]:
    """One row per workload id, in first-seen order: its fastest verified preset, else its first
    verified one (verify-only runs have no times), else its first row."""
    order, best = [], {}
    for r in rows:
        cur = best.get(r["id"])
        if cur is None:
            order.append(r["id"])
            best[r["id"]] = r
        elif r["status"] == "ok" and (cur["status"] != "ok" or _median(r) < _median(cur)):
            best[r["id"]] = r
    return [best[i] for i in order]


def _median(row: dict) -> float:
    return row["stats_ms"]["median"] if row.get("stats_ms") else float("inf")
