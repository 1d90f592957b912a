"""Rich terminal tables of a run: one table per layer, failures explained under it."""
from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from suite.rounds import SPLIT_RATIO
from suite.text import display_copy
from targets.collectors import COLLECTORS, report_columns
from suite.rows import (STATUS_COMPILED, STATUS_OK, STATUS_WRONG, Record, Row, as_row, best_per_workload,
                        column_value)

STATUS_STYLE = {STATUS_OK: "green", STATUS_WRONG: "bold red", STATUS_COMPILED: "cyan"}


def make_console(width: int = 120) -> Console:
    """A terminal console, or ``width`` columns of prose when writing to a file or CI log (tables
    are printed whole there, whatever their width: see ``print_table``)."""
    import sys
    return Console() if sys.stdout.isatty() else Console(width=width)


# columns a table may drop, first to last, on a terminal too narrow for it (the record keeps them all)
OPTIONAL_COLUMNS = ("p90 ms", "max err", "÷ model B", "sim. B", "model B", "IQR ms", "static B", "paper",
                    "x model")
# the long names a table shortens (ending them in '…') when even that is not enough
SQUEEZABLE_COLUMNS = ("algorithm", "lowering", "best preset", "layer", "claim", "deployed (best)", "trained (best)")


def _width(console: Console, x) -> int:
    """Columns ``x`` (a table, a cell) takes when nothing limits it."""
    from rich.measure import Measurement
    return Measurement.get(console, console.options.update(width=10_000), x).maximum


def print_table(console: Console, table: Table) -> None:
    """A table whose numbers are never cut: rich squeezes a table wider than the console and ends
    its cells in '…'. Written to a file or a CI log, the table is printed at its own width. On a
    terminal too narrow for it, the columns named in OPTIONAL_COLUMNS are left out, first to last,
    until it fits, and a line says which (the JSON record, and `suite show` on a wider terminal or
    into a file, have them all); what still does not fit is taken from its SQUEEZABLE_COLUMNS."""
    def width(x) -> int:
        return _width(console, x)

    if width(table) <= console.width:
        console.print(table)
        return
    if not console.is_terminal:
        saved = console.width
        console.width = width(table)
        try:
            console.print(table)
        finally:
            console.width = saved
        return
    hidden = []
    for header in OPTIONAL_COLUMNS:
        if width(table) <= console.width:
            break
        i = next((i for i, c in enumerate(table.columns) if str(c.header).strip() == header), None)
        if i is not None:
            hidden.append(header)
            del table.columns[i]
    if width(table) > console.width:     # what still does not fit is taken from the names, never a number
        natural = {id(c): max(width(x) for x in [c.header, *c.cells]) for c in table.columns}
        names = [c for c in table.columns if str(c.header).strip() in SQUEEZABLE_COLUMNS]
        room = console.width - (3 * len(table.columns) + 1) - sum(natural[id(c)] for c in table.columns
                                                                  if c not in names)
        total = sum(natural[id(c)] for c in names)
        for c in names:
            c.width = max(4, room * natural[id(c)] // total) if total else None
    console.print(table)
    if hidden:
        console.print(f"  [dim]left out to fit {console.width} columns: {', '.join(hidden)} "
                      "(a wider terminal, `suite show > FILE` or the JSON record has them)[/]")


def si(v: float) -> str:
    """1234567 -> '1.23 M' (decimal prefixes, 3 significant digits)."""
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.3g} {prefix}"
    return f"{v:.3g} "


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _speedup(base: float | None, t: float | None) -> Text:
    if not base or not t:
        return Text("-", style="dim")
    x = base / t
    return Text(f"{x:.2f}x", style="green" if x > 1.05 else "red" if x < 0.95 else "")


def _psnr(r: Row) -> str:
    if r.max_abs_err is None:
        return "-"
    return "exact" if r.psnr_db is None else f"{r.psnr_db:.1f}"


def _err(r: Row) -> str:
    return "-" if r.max_abs_err is None else f"{r.max_abs_err:.1e}"


def layer_table(all_rows: list, title: str, emulated: bool = False) -> Table:
    from workloads.algorithms import algorithm_label
    rows = [as_row(r) for r in best_per_workload(all_rows)]
    sweep = len(rows) < len(all_rows)
    by_method = {r.method: r for r in rows if r.algorithm is None and r.ok}
    base = by_method.get("C-SP") or by_method.get("trained")
    base_sp = base.median_ms if base else None
    base_nn = by_method["C-NN"].median_ms if "C-NN" in by_method else None
    t = Table(title=title, title_justify="left", header_style="bold")
    with_model = any(r.model for r in rows)
    network = rows[0].method in ("trained", "deployed")
    cols = [("method", "left"), ("algorithm", "left"), ("status", "left"), ("max err", "right")] + (
        [("PSNR dB", "right")] if network else []) + [
        ("median ms (emulated)" if emulated else "median ms", "right"), ("IQR ms", "right"), ("p90 ms", "right"),
        ("vs trained" if network else "vs C-SP", "right")] + ([] if network else [("vs C-NN", "right")])
    if with_model:
        cols += [("model ms", "right"), ("x model", "right")]
    # each collector's own columns (targets.collectors.Column), where any row has a value
    shown = [(name, col) for name, col in report_columns() if any(column_value(r, name, col) is not None for r in rows)]
    for i, (_, col) in enumerate(shown):
        cols.append((col.header, "right"))
        if col.vs_model:
            cols.append(("÷ model B" + " " * i, "right"))        # rich needs distinct headers
    tuned = any(r.tuning for r in rows)
    if sweep or tuned:
        cols.insert(2, ("lowering" if tuned else "best preset", "left"))
    for col, just in cols:
        t.add_column(col, justify=just, no_wrap=True)
    for r in rows:
        s = r.stats
        status = Text(r.status, style=STATUS_STYLE.get(r.status, "yellow"))
        cells = [r.method, algorithm_label(r.algorithm), status, _err(r)] + (
            [_psnr(r)] if network else []) + [_ms(r.median_ms), _ms(s.get("iqr")),
                                              _ms(s.get("p90")), _speedup(base_sp, r.median_ms)]
        if not network:
            cells.append(_speedup(base_nn, r.median_ms))
        if with_model:
            x = r.median_ms / r.model_ms if r.model_ms and r.median_ms else None
            cells += [_ms(r.model_ms), "-" if x is None else f"{x:.1f}x"]
        for name, col in shown:
            v = column_value(r, name, col)
            if col.unit == "ms":
                cells.append(_ms(v))
                continue
            mb = r.model_bytes
            cells.append("-" if v is None else si(v).strip())
            if col.vs_model:
                cells.append("-" if not (v and mb) else f"{v / mb:.2f}")
        if sweep or tuned:
            cells.insert(2, lowering_label(r))
        t.add_row(*cells)
    return t


def traffic_claim(rows: list) -> str | None:
    """The paper's claim on compiled code: C-SP and C-NN bytes over the least-traffic deconvolution."""
    rows = [as_row(r) for r in rows]
    for name, col in report_columns():
        if not col.traffic:
            continue
        kind = col.traffic
        have = {(r.method, r.algorithm): column_value(r, name, col) for r in rows
                if column_value(r, name, col) is not None}
        deconv = {k: v for k, v in have.items() if k[0].startswith("D-")}
        if not deconv or not any(m in (k[0] for k in have) for m in ("C-SP", "C-NN")):
            continue
        (dm, da), best = min(deconv.items(), key=lambda kv: kv[1])
        parts = [f"{m} {si(have[(m, None)]).strip()}B = {have[(m, None)] / best:.2f}x"
                 for m in ("C-SP", "C-NN") if (m, None) in have]
        return f"{kind} bytes: " + ", ".join(parts) + f" of the least-traffic deconvolution ({dm} {da}, {si(best).strip()}B)"
    return None


def _unsettled(r: Row) -> bool:
    """Whether a row's rounds' medians are still over SPLIT_RATIO apart: a slow phase of the machine
    reached part of its samples (suite.rounds)."""
    return r.ok and (r.rounds_apart or 0.0) > SPLIT_RATIO


def unsettled_rows(rows: list) -> str:
    """The rows whose rounds disagree (``_unsettled``), each with its rounds' spread."""
    from workloads.algorithms import algorithm_label
    out = []
    for r in filter(_unsettled, map(as_row, rows)):
        name = " ".join(filter(None, [r.runtime, r.method, algorithm_label(r.algorithm) if r.algorithm else ""]))
        left = len(r.samples_ms) - len(r.timed_samples)
        out.append(f"{name} {_ms(r.median_ms)} ms ({r.rounds_apart:.2f}x"
                   + (f", {left} of {len(r.samples_ms)} samples set aside" if left else "") + ")")
    return ", ".join(out)


def timing_noise(rows: list, peer_rows: list) -> str | None:
    """One line on the whole run: how many rows' rounds disagree, where any do."""
    n, m = sum(map(_unsettled, map(as_row, rows))), sum(map(_unsettled, map(as_row, peer_rows)))
    if not n and not m:
        return None
    return (f"timing noise: {n} of {len(rows)} IREE rows" + (f" and {m} of {len(peer_rows)} peer rows" if peer_rows else "")
            + f" have rounds over {SPLIT_RATIO}x apart after a retake (named under their tables): the machine was "
            "slower for part of their timing. Their slower rounds are set aside (kept in the record, not in their "
            "statistics), and their medians are less sure")


def _preset_tag(r) -> str:
    """' [preset]' as rich text (the bracket escaped, so it is never read as a style)."""
    return f" \\[{lowering_label(r)}]" if lowering_label(r) != "default" else ""


def lowering_label(r) -> str:
    """The preset, and the layout the tuner ran it in where it chose one: 'channels-last/nhwc', and
    the algorithm's form where it is not the plain one: 'default/nchw/cols8'."""
    r = as_row(r)
    return (f"{r.preset}/{r.layout}" if r.layout else r.preset) + (f"/{r.form}" if r.form else "")


def print_run(record: dict, console: Console | None = None) -> None:
    """Every table and line of a run. The record's strings are printed as text (suite.text)."""
    from workloads.algorithms import algorithm_label
    console = console or make_console()
    record = display_copy(record)
    m, tg = record["machine"], record["target"]
    threads = f", {tg['threads']} threads" if tg.get("threads") else ""
    if record["settings"].get("malloc", "system") != "system":
        threads += f", malloc {record['settings']['malloc']}"
    if record["settings"].get("sched", "normal") != "normal":
        threads += f", sched {record['settings']['sched']}"
    console.print(f"[bold]{tg['name']}[/] ({tg['device']}{threads}) on {m['cpu']} "
                  f"({m['cpus_usable']} CPUs) - IREE {record['versions'].get('iree-base-compiler')}, "
                  f"torch {record['versions'].get('torch')}, seed {record['settings'].get('seed')}")
    rec = Record(record)
    if rec.under_qemu:
        console.print(f"[bold yellow]{tg.get('device_name')}: emulated: not a device time. The outputs are the "
                      "real cross-compiled code's, verified; every latency below is qemu's, not the device's[/]")
    elif tg.get("emulated"):
        console.print(f"[bold yellow]{tg.get('device_name')}: a CPU emulation of {tg['name']}; these latencies are "
                      "not GPU numbers[/]")
    if tg.get("runs_here") is False:
        console.print(f"[yellow]compile-only: {tg.get('note')}[/]")
    rows, peer_rows = rec.iree_rows, rec.peer_rows                 # IREE's; peers get a table of their own
    for layer, group in groupby(rows, key=lambda r: r.layer):
        group = list(group)
        name = group[0].layer_name
        print_table(console, layer_table(group, f"{name}  [dim]{layer}[/]" if name else layer,
                                         emulated=rec.under_qemu))
        peers_here = [r for r in peer_rows if r.layer == layer]
        if peers_here:
            print_table(console, peer_table(group, peers_here))
        for r in group + peers_here:
            if r.status not in (STATUS_OK, STATUS_COMPILED):
                console.print(f"  [yellow]{r.id + _preset_tag(r)}[/]: {r.status}: {r.reason}")
        unsettled = unsettled_rows(best_per_workload(group) + peers_here)
        if unsettled:
            console.print(f"  [yellow]rounds still over {SPLIT_RATIO}x apart after a retake (the machine was slow for "
                          f"part of their timing; the slower rounds are set aside, and the median is less "
                          f"sure): {escape(unsettled)}[/]")
        claim = traffic_claim(best_per_workload(group))
        if claim:
            console.print(f"  {claim}")
        for collector in COLLECTORS.values():              # what each collector has to say under the table
            for r in group:
                note = collector.row_note(r.counters) if collector.row_note else None
                if note:
                    console.print(f"  {collector.row_note_label} of {r.method}"
                                  f"{'/' + algorithm_label(r.algorithm) if r.algorithm else ''}{_preset_tag(r)}: {note}")
            hint = collector.layer_note([r.counters for r in group], rec.settings) if collector.layer_note else None
            if hint:
                console.print(f"  [yellow]{escape(hint)}[/]")
        agree = (record.get("model") or {}).get("layers", {}).get(layer)
        if agree:
            tau = "n/a" if agree["kendall_tau"] is None else f"{agree['kendall_tau']:+.2f}"
            compiled = agree.get("kendall_tau_compiled")
            console.print(f"  model vs machine: Kendall tau {tau} over {agree['n']} workloads "
                          f"(1 = same ordering)" + (f"; {compiled:+.2f} with the compiled module's terms"
                                                    if compiled is not None else "")
                          + f"; model's fastest: {agree['best_by_model']}, measured fastest: {agree['best_measured']}")
            for line in agree["statements"]:
                console.print(f"  - {line}")
    model = record.get("model")
    if model and model.get("mdape_percent") is not None:
        p = model["profile"]
        where = "measured on this machine" if p["measured_here"] else "[yellow]not measured on this machine[/]"
        console.print(f"model: profile {p['name']} ({where}; {p['peak_flops'] / 1e9:.0f} GFLOP/s, "
                      f"{p['bandwidth'] / 1e9:.1f} GB/s"
                      + (f" measured at the start of the run, calibrated {p['bandwidth_calibrated'] / 1e9:.1f}"
                         if p.get("bandwidth_calibrated") else "")
                      + f"), {model['accounting']} accounting; median absolute "
                      f"error of predicted latency {model['mdape_percent']:.0f}% over {model['n']} workloads"
                      + (f" ({model['mdape_compiled_percent']:.0f}% with the compiled module's terms: its bound bytes, "
                         "the calibrated fixed costs of a call and of each dispatch, and the vector lanes "
                         + (f"of {p['vector_lanes']} " if p.get("vector_lanes") else "")
                         + "a conv's output channels leave idle"
                         + (f" (or, vectorised along its output width, the FMA latency its sums leave unhidden of the "
                            f"calibrated {p['latency_lanes']:.0f} lanes in flight)" if p.get("latency_lanes") else "")
                         + ", the bytes of its dispatches that only move data after the roofs"
                         + (f" (at the calibrated {p['cache_bandwidth'] / 1e9:.0f} GB/s where the call fits in the "
                            f"{p['cache_bytes'] / 2**20:g} MiB last-level cache)"
                            if p.get("cache_bandwidth") and p.get("cache_bytes") else "")
                         + (f", REVD2's gather at the calibrated {p['gather_flops'] / 1e9:.1f} GFLOP/s"
                            if p.get("gather_flops") else "")
                         + (f", REVD's and STDD's tap matmuls at the calibrated {p['tap_flops'] / 1e9:.1f} GFLOP/s"
                            if p.get("tap_flops") else "")
                         + (f", and the pages a call touches fresh at {p['fault_s_per_byte'] * 1e9:.2f} ns a byte"
                            if p.get("fault_s_per_byte") else "") + ")"
                         if model.get("mdape_compiled_percent") is not None else "")
                      + ". 'x model' = measured / predicted = multiple of the roofline floor.")
    used = [f"{k} ({v['source']})" for k, v in (record.get("counters") or {}).items() if v["used"]]
    if used:
        console.print("counters: " + ", ".join(used) + ". 'static B' = bytes every dispatch binds (read + write), "
                      "from the compiled module; '÷ model B' = over the model's bytes.")
    n_ok = sum(r.ok for r in rows)
    presets = record["settings"].get("presets", {})
    timed = not record["settings"].get("verify_only")
    tune = record["settings"].get("tune", "none")
    if tune != "none" and timed:
        wins, sources = {}, {}
        for r in rows:
            if r.ok and r.tuning:
                wins[lowering_label(r)] = wins.get(lowering_label(r), 0) + 1
                sources[r.tuning["source"]] = sources.get(r.tuning["source"], 0) + 1
        console.print(f"tuned ({tune}): lowering chosen per workload: "
                      + ", ".join(f"{k} {v}" for k, v in sorted(wins.items(), key=lambda kv: -kv[1]))
                      + "; decided by " + ", ".join(f"{k} {v}" for k, v in sources.items())
                      + (f"; database {record['settings'].get('tuning_db')}"
                         if record["settings"].get("tuning_db") else ""))
    elif len(presets) > 1 and timed:
        wins = {}
        for r in best_per_workload(rows):
            if r.ok:
                wins[r.preset] = wins.get(r.preset, 0) + 1
        console.print("fastest preset per workload: " + ", ".join(f"{p} {wins.get(p, 0)}" for p in presets))
    if timed:
        print_verdicts(record, console)
        if peer_rows:
            print_runtime_claims(record, console)
        noise = timing_noise(rows, peer_rows)
        if noise:
            console.print(f"[yellow]{noise}[/]")
    n_compiled = sum(r.status == STATUS_COMPILED for r in rows)
    if n_compiled:
        console.print(f"{n_compiled}/{len(rows)} workloads compiled (compile-only target: not run here)")
        return
    console.print(f"{n_ok}/{len(rows)} workloads verified against their reference (PyTorch; onnxruntime for ONNX "
                  "models)" + (" and timed" if timed else "")
                  + ("" if rec.complete else " [bold yellow](run incomplete)[/]"))


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def verdict_rows(record: dict):
    """The record's verdicts (computed from its rows when an older record has none stored)."""
    from suite.verdict import Verdict, verdicts
    stored = record.get("verdict")
    if stored is not None:
        return [Verdict(**v) for v in stored["layers"]]
    return verdicts(record["workloads"])


VERDICT_COLUMNS = ("layer", "claim", "deployed (best)", "trained (best)", "speed-up", "95% CI", "model",
                   "paper", "static B", "sim. B", "model B", "verdict")


def _verdict_cells(v) -> list[str]:
    return [v.layer_name or v.layer, f"{v.deployed} vs {v.trained}", v.deployed_row, v.trained_row,
            f"{v.speedup:.2f}x", f"{v.ci_low:.2f}-{v.ci_high:.2f}", _x(v.model_ratio), _x(v.paper_ratio),
            _x(v.static_bytes_ratio), _x(v.simulated_bytes_ratio), _x(v.model_bytes_ratio), v.outcome]


def print_verdicts(record: dict, console: Console) -> None:
    """One screen: per layer, does the deconvolution beat the trained form here, and by how much."""
    from suite.verdict import summary
    note = (record.get("verdict") or {}).get("note")
    if note:
        console.print(f"verdict: none ({note})")
        return
    vs = verdict_rows(record)
    if not vs:
        return
    t = Table(title="verdict: the deconvolution form against the form it was trained as "
                    "(speed-up = trained median / deployed median; ratios > 1 favour the deconvolution)",
              title_justify="left", header_style="bold")
    for col in VERDICT_COLUMNS:
        t.add_column(col, justify="left" if col in ("layer", "claim", "deployed (best)", "trained (best)", "verdict")
                     else "right", no_wrap=col not in ("deployed (best)", "trained (best)"))
    style = {"holds": "green", "does not hold": "red", "inconclusive": "yellow"}
    for v in vs:
        cells = _verdict_cells(v)          # from the display copy: already printable as text
        cells[-1] = f"[{style[v.outcome]}]{cells[-1]}[/]"
        t.add_row(*cells)
    print_table(console, t)
    for v in vs:
        console.print(f"  {v.layer_name or v.layer}: {v.sentence}")
    s = summary(vs)
    console.print(f"the claim holds for {s['holds']}, does not hold for {s['does not hold']}, and is inconclusive "
                  f"for {s['inconclusive']} of {len(vs)} layer comparisons. 'model' = the model's ratio for the same "
                  "two rows; 'static B' / 'sim. B' / 'model B' = trained bytes over deployed bytes.")


def verdict_markdown(record: dict) -> str:
    from suite.verdict import summary
    vs = verdict_rows(record)
    if not vs:
        return "No layer has a timed, verified row of both a deployed and a trained form.\n"
    lines = ["| " + " | ".join(VERDICT_COLUMNS) + " |", "|" + "---|" * len(VERDICT_COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _verdict_cells(v)) + " |" for v in vs]
    lines.append("")
    lines += [f"- **{v.layer_name or v.layer}**: {v.sentence}" for v in vs]
    s = summary(vs)
    lines.append(f"\nThe claim holds for {s['holds']}, does not hold for {s['does not hold']}, and is inconclusive "
                 f"for {s['inconclusive']} of {len(vs)} layer comparisons.")
    return "\n".join(lines) + "\n"


def _best_median(rows: list[Row], method: str) -> Row | None:
    timed = [r for r in rows if r.method == method and r.ok and r.median_ms is not None]
    return min(timed, key=lambda r: r.median_ms, default=None)


def peer_table(iree_rows: list, peer_rows: list) -> Table:
    """Per method: IREE's best row against each peer's median, and IREE over the best peer."""
    iree_rows, peer_rows = [as_row(r) for r in iree_rows], [as_row(r) for r in peer_rows]
    runtimes = list(dict.fromkeys(r.runtime for r in peer_rows))
    t = Table(title="  peer runtimes on the same layer (median ms; the same reference, threads, warm-up and "
                    "repetitions)", title_justify="left", header_style="bold")
    for col in ("method", "IREE best", *runtimes, "vs best peer"):
        t.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)
    for method in dict.fromkeys(r.method for r in peer_rows):
        best = _best_median(iree_rows, method)
        cells = [method, _ms(best.median_ms) if best else "-"]
        peers = {}
        for rt in runtimes:
            row = next((r for r in peer_rows if r.method == method and r.runtime == rt), None)
            if row is None:
                cells.append("-")
            elif row.ok:
                peers[rt] = row.median_ms
                cells.append(_ms(peers[rt]) + ("*" if row.on_fallback else ""))
            else:
                cells.append(Text(row.status, style="yellow"))
        if best and peers:
            ratio = best.median_ms / min(peers.values())
            cells.append(Text(f"{ratio:.2f}x", style="green" if ratio <= 1 else "red"))
        else:
            cells.append("-")
        t.add_row(*cells)
    return t


def print_runtime_claims(record: dict, console: Console) -> None:
    """The paper's claim within each runtime: best D-SP over C-SP and D-NN over C-NN, side by side."""
    from suite.verdict import runtime_ratios
    table = runtime_ratios(record["workloads"])
    if not table:
        return
    runtimes = list(dict.fromkeys(rt for row in table for rt in row["ratios"]))

    def build(sep: str) -> Table:
        t = Table(title="the claim in each runtime: trained form's median over the deconvolution's (> 1: the "
                        "deconvolution is faster; 95% CI)", title_justify="left", header_style="bold")
        for col in ("layer", "claim", *runtimes):
            t.add_column(col, justify="left" if col in ("layer", "claim") else "right", no_wrap=True)
        for row in table:
            cells = [row["layer"], row["claim"]]
            for rt in runtimes:
                v = row["ratios"].get(rt)
                cells.append("-" if v is None else f"{v[0]:.2f}x{sep}({v[1]:.2f}-{v[2]:.2f})")
            t.add_row(*cells)
        return t
    t = build(" ")
    if console.is_terminal and _width(console, t) > console.width:
        t = build("\n")                  # a narrow terminal: each interval under its ratio
    print_table(console, t)
    notes = {f"{r.runtime} {r.method}: {r.runtime_note}" for r in Record(record).peer_rows if r.on_fallback}
    for n in sorted(notes):
        console.print(f"  * {n}")
