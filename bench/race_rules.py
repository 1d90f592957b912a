"""How the tuner's races would have gone under other rules (prints; asserts nothing).

Reads records written by `python bench/speed.py --json FILE` (best with `--rivals-within 3`, so that
lowerings a probe dropped are timed too). Each race is decided again from the candidates' stored
race samples by several statistics, and each pick is judged against the side-by-side medians the
bench took of the same lowerings afterwards. Also lists the rows whose best lowering, side by side,
was dropped by the probe: no statistic over the raced samples can find those.

Usage: python bench/race_rules.py RECORD.json [...]
"""
from __future__ import annotations

import json
import statistics
import sys

RULES = {
    "median": statistics.median,
    "min": min,
    "mean of 2 fastest": lambda s: statistics.mean(sorted(s)[:2]),
    "mean": statistics.mean,
}


def label(c: dict) -> str:
    return f"{c['preset']}/{c['layout']}"


def judge(path: str) -> None:
    rec = json.loads(open(path).read())
    side = rec.get("bench_side_by_side")
    if side is None:
        sys.exit(f"{path}: no side-by-side samples (written by bench/speed.py --json)")
    rows = {w["id"]: w for w in rec["workloads"] if not w.get("runtime")}
    excess = {k: [] for k in RULES}
    dropped = []
    for wid, timed in side.items():
        med = {k: statistics.median(v) for k, v in timed["samples_ms"].items() if v}
        best = min(med, key=med.get)
        cands = rows[wid]["tuning"]["candidates"]
        if med[timed["chosen"]] / med[best] > 1.05:
            c = next((c for c in cands if label(c) == best), None)
            if c is not None and c["status"] == "abandoned":
                dropped.append((wid, best, med[timed["chosen"]] / med[best], c["samples_ms"], med[best]))
        raced = [c for c in cands if c["status"] == "raced" and c.get("samples_ms")]
        if len(raced) < 2:
            continue
        for name, rule in RULES.items():
            pick = label(min(raced, key=lambda c: rule(c["samples_ms"])))
            if pick in med:
                excess[name].append(med[pick] / med[best])
    n = len(next(iter(excess.values())))
    print(f"{path}: {n} races of two or more, re-decided against the side-by-side medians")
    for name, v in excess.items():
        print(f"  {name:18s} mean excess over the best {100 * (statistics.mean(v) - 1):4.1f}%   "
              f"over 1.1x: {sum(x > 1.1 for x in v):2d}   over 1.2x: {sum(x > 1.2 for x in v):2d}   "
              f"worst {max(v):.2f}x")
    print(f"  rows over 1.05x whose best lowering the probe dropped: {len(dropped)}")
    for wid, best, ratio, probe, true in dropped:
        print(f"    {wid:48s} {best:40s} chosen {ratio:.2f}x; probe "
              + ", ".join(f"{p:.3f}" for p in probe) + f" ms against {true:.3f} ms side by side")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        judge(p)
