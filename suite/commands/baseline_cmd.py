"""suite baseline: make a stored run the baseline of its testbed (results/baselines/NAME.json)."""
from __future__ import annotations

import json
from pathlib import Path

from suite.paths import BASELINES_DIR, RESULTS_DIR, find_run


def add_parser(sub) -> None:
    p = sub.add_parser("baseline", help="store a run as the baseline of its testbed")
    p.add_argument("run", nargs="?", default="latest", help="the run (default: latest)")
    p.add_argument("--name", help="baseline name (default: machine fingerprint-target-device)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--baselines-dir", type=Path, default=BASELINES_DIR)
    p.set_defaults(func=main)


def main(args) -> int:
    from suite.cache import atomic_write
    from suite.calibrate import fingerprint_key
    from suite.record import load_record
    src = find_run(args.run, args.results_dir)
    rec = load_record(src)
    name = args.name or f"{fingerprint_key(rec['machine'])}-{rec['target']['name']}-{rec['target']['device']}"
    out = args.baselines_dir / f"{name}.json"
    atomic_write(out, json.dumps(rec, indent=1) + "\n")
    print(f"baseline {out} <- {src}")
    return 0
