"""suite baseline: make a stored run the baseline of its testbed (results/baselines/NAME.json)."""
from __future__ import annotations

from pathlib import Path

from suite.paths import BASELINES_DIR, RESULTS_DIR, find_run


def add_parser(sub) -> None:
    p = sub.add_parser("baseline", help="store a run as the baseline of its testbed")
    p.add_argument("run", nargs="?", default="latest", help="the run (default: latest)")
    p.add_argument("--name", help="baseline name (default: machine fingerprint-target-device)")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--baselines-dir", type=Path, default=BASELINES_DIR)
    p.add_argument("--force", action="store_true", help="replace a baseline of the same name")
    p.set_defaults(func=main)


def main(args) -> int:
    from suite import outputs
    from suite.calibrate import fingerprint_key
    from suite.record import load_record, write_record
    if args.name:
        outputs.named_file(args.baselines_dir, args.name, ".json", "--name")      # no path escapes the folder
    src = find_run(args.run, args.results_dir)
    rec = load_record(src)
    name = args.name or f"{fingerprint_key(rec['machine'])}-{rec['target']['name']}-{rec['target']['device']}"
    outputs.folder(args.baselines_dir, "--baselines-dir")
    out = outputs.new_file(outputs.named_file(args.baselines_dir, name, ".json", "baseline"), "baseline",
                           args.force)
    write_record(rec, out)
    print(f"baseline {out} <- {src}")
    return 0
