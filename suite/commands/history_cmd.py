"""suite history: one workload's latency (or a counter) across every stored run."""
from __future__ import annotations

from pathlib import Path


from suite.paths import RESULTS_DIR, stored_runs
from suite.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("history", help="a workload's metric across stored runs")
    p.add_argument("workload", help="workload id, e.g. n1-c32to1-321x481-k3-r3/D-SP/REVD2 (a suffix is enough)")
    p.add_argument("--metric", default="latency",
                   help="'latency' (median ms) or a counter name, e.g. bytes_read, dispatch_count")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.set_defaults(func=main)


def main(args) -> int:
    from rich.table import Table
    from suite.record import load_record
    from suite.report import make_console
    from suite.rows import Record
    from suite.text import display_copy, safe
    rows, metrics = [], set()
    for path in stored_runs(args.results_dir):
        try:
            rec = display_copy(load_record(path))       # a record's text is printed as text
        except UserError as e:
            make_console().print(f"[yellow]skipped[/] {safe(e)}")
            continue
        for w in Record(rec).rows:
            metrics.update(c["name"] for c in w.counters if not c.get("dispatch"))
            if not (w.id == args.workload or w.id.endswith(args.workload)):
                continue
            if args.metric == "latency":
                value = f"{w.median_ms:.3f} ms" if w.median_ms is not None else "-"
            else:
                vals = [c for c in w.counters if c["name"] == args.metric and not c.get("dispatch")]
                value = f"{vals[0]['value']:g} {vals[0]['unit']} ({vals[0]['source']})" if vals else "-"
            git = rec["versions"].get("suite_git", {})
            rows.append((rec["created"], rec["id"], (git.get("commit") or "?")[:8] + ("+" if git.get("dirty") else ""),
                         rec["machine"]["cpu"], f"{rec['target']['name']}/{rec['target']['device']}",
                         w.id, w.preset, w.status, value))
    if not rows:
        raise UserError(f"no stored run in {args.results_dir} has a workload matching {args.workload!r}")
    if args.metric != "latency" and args.metric not in metrics:
        raise UserError(f"--metric: no stored run of {args.workload!r} has a counter {args.metric!r} "
                        f"(latency, or one of: {', '.join(sorted(metrics)) or 'none collected'})")
    t = Table(title=f"history of {safe(args.workload)}: {safe(args.metric)}", title_justify="left",
              header_style="bold")
    # a suffix can match several layers' workloads: the workload column keeps their series apart
    for c in ("created", "run", "commit", "machine", "target", "workload", "preset", "status", safe(args.metric)):
        t.add_column(c, justify="right" if c == safe(args.metric) else "left")
    for r in sorted(rows, key=lambda r: (r[5], r[0])):
        t.add_row(*r)
    make_console(160).print(t)
    return 0
