"""Stored run records scored again by the model under other calibrated profiles (prints; asserts nothing).

A run's tau and median error depend on its measurements and on one calibration. To tell a change of
the model or of its calibration from the noise of one run, score many stored records under each
profile: this keeps every record's medians and reads each row's static counters again from its
module in the compile cache (iree-static's summary, made again where its version is older, so a
fixed counter counts too), then recomputes each row's compiled-terms prediction under the profile
(suite.model_check.add_compiled_terms) and the run's agreement (suite.model_check.agreement).

Usage: python bench/rescore.py --profile A.json [--profile B.json ...] RECORD.json [RECORD.json ...]

For each profile it prints each record's tau per layer and median error, then the runs whose every
layer reached 0.80, each layer's lowest and median tau, and the median error over the runs. Records
whose compile cache is gone (a temporary one, as bench/speed.py's) are left out, and so are rows
with no module (peer runtimes).
"""
from __future__ import annotations

import argparse
import copy
import json
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suite.build import Built, static_summary                       # noqa: E402
from suite.cache import CompileCache                                 # noqa: E402
from suite.calibrate import to_profile                               # noqa: E402
from suite.model_check import add_compiled_terms, agreement         # noqa: E402
from suite.record import load_record                                 # noqa: E402
from targets.collectors.iree_static import values_from_summary      # noqa: E402

GOAL = 0.80


def built_of(row: dict) -> Built | None:
    """The row's module as the compile cache holds it, from its recorded compile command."""
    cmd = (row.get("commands") or {}).get("compile")
    if not row.get("module_key") or not cmd:
        return None
    argv = shlex.split(cmd)
    if not Path(argv[1]).exists():                 # its compile cache is gone (a temporary one, or cleared)
        return None
    out = argv.index("-o")
    flags = [a for a in argv[2:out] if not a.startswith("--iree-input-type=")]
    input_type = next((a.split("=", 1)[1] for a in argv if a.startswith("--iree-input-type=")), "none")
    return Built(Path(argv[out + 1]), row["module_key"], True, 0.0, cmd, Path(argv[1]), input_type, tuple(flags))


def rescored(record: dict, profile, summaries: dict) -> list[dict]:
    """The record's measured IREE rows, each with its prediction under ``profile``."""
    rows = []
    for row in record["workloads"]:
        built = built_of(row)
        if built is None or not row.get("stats_ms") or not row.get("model"):
            continue
        if built.key not in summaries:
            cache = CompileCache(built.mlir_path.parent.parent)           # <root>/modules/<key>.mlir
            summaries[built.key] = static_summary(cache, built, 600)
        row = copy.deepcopy(row)
        row["counters"] = [c for c in row["counters"] if c.get("collector") != "iree-static"]
        row["counters"] += [c.to_json() for c in values_from_summary(summaries[built.key])]
        add_compiled_terms(row["model"], row, profile)
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="append", required=True, help="a calibrated profile (JSON), repeatable")
    ap.add_argument("records", nargs="+")
    args = ap.parse_args()
    records = [(p, load_record(p)) for p in args.records]
    summaries: dict = {}
    for path in args.profile:
        doc = json.loads(Path(path).read_text())
        profile = to_profile(doc)
        print(f"== {path}: tap {doc.get('tap_flops', 0) / 1e9:.1f} GFLOP/s, gather {doc.get('gather_flops', 0) / 1e9:.2f}, "
              f"peak {doc['peak_flops'] / 1e9:.0f}, bandwidth {doc['bandwidth'] / 1e9:.1f} GB/s")
        per_layer, lows, errors = {}, [], []
        for name, record in records:
            a = agreement(rescored(record, profile, summaries))
            taus = {k: v["kendall_tau_compiled"] for k, v in a["layers"].items() if v["kendall_tau_compiled"] is not None}
            if not taus:
                print(f"  {Path(name).name}: left out, its modules are in no compile cache here")
                continue
            for k, v in taus.items():
                per_layer.setdefault(k, []).append(v)
            lows.append(min(taus.values()))
            errors.append(a["mdape_compiled_percent"])
            print(f"  {Path(name).name}: " + " ".join(f"{v:.2f}" for v in taus.values())
                  + f"  lowest {min(taus.values()):.2f}, median error {a['mdape_compiled_percent']:.1f}%")
        if not lows:
            continue
        print(f"  runs with every layer >= {GOAL}: {sum(t >= GOAL - 0.005 for t in lows)} of {len(lows)}; "
              f"median error over the runs {statistics.median(errors):.1f}%")
        for k, v in per_layer.items():
            print(f"    {k}: lowest {min(v):.2f}, median {statistics.median(v):.2f}")


if __name__ == "__main__":
    main()
