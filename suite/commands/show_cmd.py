"""suite show: print a stored run (a path, a run id or its prefix, or 'latest')."""
from __future__ import annotations

from suite import options
from suite.paths import find_run


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print a stored run record")
    p.add_argument("run", nargs="?", default="latest", help="path, run id (prefix) or 'latest' (default)")
    options.add_results_dir(p)
    options.add_format(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from suite.record import load_record
    from suite.report import make_console, print_run, verdict_markdown
    path = find_run(args.run, args.results_dir)
    record = load_record(path)
    if args.format == "markdown":
        print(verdict_markdown(record), end="")
        return 0
    console = make_console(160)
    print_run(record, console)
    console.print(f"run record: {path}")
    return 0
