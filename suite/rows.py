"""Selections over a run's result rows."""
from __future__ import annotations


def best_per_workload(rows: list[dict]) -> list[dict]:
    """One row per workload id, in first-seen order: its fastest verified preset, else its first row."""
    order, best = [], {}
    for r in rows:
        cur = best.get(r["id"])
        if cur is None:
            order.append(r["id"])
            best[r["id"]] = r
        elif r["status"] == "ok" and (cur["status"] != "ok" or r["stats_ms"]["median"] < cur["stats_ms"]["median"]):
            best[r["id"]] = r
    return [best[i] for i in order]
