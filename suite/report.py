"""Rich terminal tables of a run: one table per layer, failures explained under it."""
from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATUS_STYLE = {"ok": "green", "wrong": "bold red"}


def make_console() -> Console:
    """A terminal console, or 120 columns wide when writing to a file or CI log (no wrapping)."""
    import sys
    return Console() if sys.stdout.isatty() else Console(width=120)


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _speedup(base: float | None, t: float | None) -> Text:
    if not base or not t:
        return Text("-", style="dim")
    x = base / t
    return Text(f"{x:.2f}x", style="green" if x > 1.05 else "red" if x < 0.95 else "")


def _err(r: dict) -> str:
    if r.get("max_abs_err") is None:
        return "-"
    return f"{r['max_abs_err']:.1e}"


def layer_table(rows: list[dict], title: str) -> Table:
    by_method = {r["method"]: r for r in rows if r["algorithm"] is None and r["status"] == "ok"}
    base_sp = by_method.get("C-SP", {}).get("stats_ms") or {}
    base_nn = by_method.get("C-NN", {}).get("stats_ms") or {}
    t = Table(title=title, title_justify="left", header_style="bold")
    for col, just in (("method", "left"), ("algorithm", "left"), ("status", "left"), ("max err", "right"),
                      ("median ms", "right"), ("IQR ms", "right"), ("p90 ms", "right"),
                      ("vs C-SP", "right"), ("vs C-NN", "right")):
        t.add_column(col, justify=just, no_wrap=True)
    for r in rows:
        s = r.get("stats_ms") or {}
        status = Text(r["status"], style=STATUS_STYLE.get(r["status"], "yellow"))
        t.add_row(r["method"], r["algorithm"] or "-", status, _err(r), _ms(s.get("median")), _ms(s.get("iqr")),
                  _ms(s.get("p90")), _speedup(base_sp.get("median"), s.get("median")),
                  _speedup(base_nn.get("median"), s.get("median")))
    return t


def print_run(record: dict, console: Console | None = None) -> None:
    console = console or make_console()
    m, tg = record["machine"], record["target"]
    threads = f", {tg['threads']} threads" if tg.get("threads") else ""
    console.print(f"[bold]{tg['name']}[/] ({tg['device']}{threads}) on {m['cpu']} "
                  f"({m['cpus_usable']} CPUs) - IREE {record['versions'].get('iree-base-compiler')}, "
                  f"torch {record['versions'].get('torch')}, seed {record['settings'].get('seed')}")
    rows = record["workloads"]
    for layer, group in groupby(rows, key=lambda r: r["layer"]):
        group = list(group)
        name = group[0].get("layer_name")
        console.print(layer_table(group, f"{name}  [dim]{layer}[/]" if name else layer))
        for r in group:
            if r["status"] != "ok":
                console.print(f"  [yellow]{r['id']}[/]: {r['status']}: {r['reason']}")
    n_ok = sum(r["status"] == "ok" for r in rows)
    console.print(f"{n_ok}/{len(rows)} workloads verified against PyTorch and timed"
                  + ("" if record.get("complete", True) else " [bold yellow](run incomplete)[/]"))
