"""suite targets: every registered IREE target, and whether it runs here (and if not, why)."""
from __future__ import annotations

from rich.table import Table

from suite.report import make_console

from targets import TARGETS


def add_parser(sub) -> None:
    p = sub.add_parser("targets", help="list IREE targets and whether they are usable on this machine")
    p.set_defaults(func=main)


def main(args) -> int:
    t = Table(header_style="bold")
    for c in ("target", "usable", "devices", "why / what", "compile flags"):
        t.add_column(c)
    for target in TARGETS.values():
        a = target.availability()
        t.add_row(target.name, "[green]yes[/]" if a.usable else "[red]no[/]", ", ".join(target.devices),
                  a.reason, " ".join(target.compile_flags))
    make_console().print(t)
    return 0
