"""suite show: print a stored run (a path, a run id or its prefix, or 'latest')."""
from __future__ import annotations

from pathlib import Path

from suite.errors import UserError
from suite.record import load_record
from suite.report import make_console, print_run

RESULTS = Path("results/runs")


def find_run(spec: str, results_dir: Path = RESULTS) -> Path:
    p = Path(spec)
    if p.suffix == ".json" or p.exists():
        return p
    runs = sorted(Path(results_dir).glob("*.json"), key=lambda q: q.stat().st_mtime)
    if spec == "latest":
        if not runs:
            raise UserError(f"no run records in {results_dir}")
        return runs[-1]
    hits = [q for q in runs if q.name.startswith(spec)]
    if len(hits) != 1:
        raise UserError(f"{'no' if not hits else 'more than one'} run in {results_dir} matches {spec!r}")
    return hits[0]


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print a stored run record")
    p.add_argument("run", nargs="?", default="latest", help="path, run id (prefix) or 'latest' (default)")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.set_defaults(func=main)


def main(args) -> int:
    path = find_run(args.run, args.results_dir)
    console = make_console(160)
    print_run(load_record(path), console)
    console.print(f"run record: {path}")
    return 0
