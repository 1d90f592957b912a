"""suite compare: runs side by side. On one testbed (same machine, target, device): per workload
change with a verdict. Across devices: per layer, each run's speed-up of every deconvolution
algorithm over C-SP and C-NN, and its static bytes -- where the paper's claim holds and where not."""
from __future__ import annotations

from itertools import groupby

from suite import options
from suite.paths import find_run
from suite.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="compare stored runs (across commits or across devices)")
    p.add_argument("runs", nargs="+", help="two or more runs: paths, ids or 'latest'; the first is the base")
    options.add_results_dir(p)
    options.add_comparison(p)
    p.set_defaults(func=main)


def _label(rec: dict) -> str:
    t = rec["target"]
    where = f" on {t['device_host']}" if t.get("device_host") else ""          # an SSH or fleet device
    return f"{rec['id'][:16]} {rec['machine']['cpu'][:20]} {t['name']}/{t['device']}{where}"


def main(args) -> int:
    from rich.table import Table
    from suite.compare import compare_records, same_testbed
    from suite.record import load_record
    from suite.report import make_console, print_table
    from suite.rows import Record, best_per_workload
    if len(args.runs) < 2:
        raise UserError("compare needs at least two runs")
    from suite.text import display_copy
    recs = [display_copy(load_record(find_run(r, args.results_dir))) for r in args.runs]   # printed as text
    console = make_console(170)
    if all(same_testbed(recs[0], r) for r in recs[1:]):
        for rec in recs[1:]:
            changes = compare_records(recs[0], rec, args.threshold, args.alpha, min_delta_ms=args.min_delta)
            t = Table(title=f"{_label(recs[0])}  ->  {_label(rec)}", title_justify="left", header_style="bold")
            for c in ("workload", "preset", "metric", "base", "new", "ratio", "p", "verdict"):
                t.add_column(c)
            for c in changes:
                if c.verdict in ("similar", "new", "missing"):
                    continue
                t.add_row(c.workload, c.preset, c.metric, _fmt(c.base), _fmt(c.new),
                          "-" if c.ratio is None else f"{c.ratio:.3f}", "-" if c.p_value is None else f"{c.p_value:.3g}",
                          c.verdict)
            print_table(console, t)
            same = sum(c.verdict == "similar" for c in changes)
            only = {v: sum(c.verdict == v for c in changes) for v in ("new", "missing")}
            console.print(f"{same} latency comparisons within {args.threshold:.0%} not shown; "
                          f"{only['missing']} workloads only in the base, {only['new']} only in the new run")
        return 0
    from suite.compare import emulated
    if any(emulated(r) for r in recs):
        return _side_by_side_without_latency(recs, console)
    console.print("[bold]different testbeds[/]: latencies are not compared directly; each run's speed-ups over "
                  "its own C-SP and C-NN are shown side by side")
    layers = {}
    for i, rec in enumerate(recs):
        for layer, group in groupby(best_per_workload(Record(rec).iree_rows), key=lambda r: r.layer):
            layers.setdefault(layer, {})[i] = list(group)
    for layer, per_run in layers.items():
        t = Table(title=layer, title_justify="left", header_style="bold")
        t.add_column("workload")
        for i in per_run:
            t.add_column(f"[{i}] vs C-SP", justify="right")
            t.add_column(f"[{i}] vs C-NN", justify="right")
            t.add_column(f"[{i}] static B", justify="right")
        ids = list(dict.fromkeys(r.id.split("/", 1)[1] for rows in per_run.values() for r in rows))
        for wid in ids:
            cells = [wid]
            for rows in per_run.values():
                cells += _speedups(rows, wid)
            t.add_row(*cells)
        print_table(console, t)
    for i, rec in enumerate(recs):
        console.print(f"[{i}] {_label(rec)}")
    return 0


def _speedups(rows: list, wid: str) -> list[str]:
    from suite.report import si
    by = {r.id.split("/", 1)[1]: r for r in rows}
    r = by.get(wid)
    if not r or not r.ok:
        return ["-", "-", "-"]
    t = r.median_ms
    out = []
    for base in ("C-SP", "C-NN"):
        b = by.get(base)
        out.append(f"{b.median_ms / t:.2f}x" if b and b.ok else "-")
    static = _static_bytes(r)
    out.append(si(static).strip() if static is not None else "-")
    return out


def _fmt(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _side_by_side_without_latency(recs: list[dict], console) -> int:
    """Emulated runs (qemu): correctness and bytes side by side; latency is not a device's, so none."""
    from rich.table import Table
    from suite.report import print_table, si
    from suite.rows import Record
    console.print("[bold]an emulated run is among these[/]: its latencies are not device times, so none are "
                  "compared; verification and static bytes (the same code gives the same static bytes) side by side")
    ids = list(dict.fromkeys(w.id for rec in recs for w in Record(rec).iree_rows))
    t = Table(title="correctness and bytes", title_justify="left", header_style="bold")
    t.add_column("workload")
    for i, _ in enumerate(recs):
        t.add_column(f"[{i}] status")
        t.add_column(f"[{i}] max err", justify="right")
        t.add_column(f"[{i}] static B", justify="right")
    for wid in ids:
        cells = [wid]
        for rec in recs:
            w = next((r for r in Record(rec).rows if r.id == wid), None)
            if w is None:
                cells += ["-", "-", "-"]
                continue
            static = _static_bytes(w)
            cells += [w.status, "-" if w.max_abs_err is None else f"{w.max_abs_err:.1e}",
                      si(static).strip() if static is not None else "-"]
        t.add_row(*cells)
    print_table(console, t)
    for i, rec in enumerate(recs):
        console.print(f"[{i}] {_label(rec)}" + ("  (emulated)" if rec["target"].get("emulated") else ""))
    return 0


def _static_bytes(row) -> float | None:
    """The row's static bytes, from whichever collector reports that kind (targets.collectors)."""
    from suite.rows import column_value
    from targets.collectors import traffic_column
    found = traffic_column("static")
    return None if found is None else column_value(row, *found)
