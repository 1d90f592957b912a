"""suite targets: every registered IREE target, and whether it runs here (and if not, why)."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("targets", help="list IREE targets and whether they are usable on this machine")
    p.set_defaults(func=main)


def main(args) -> int:
    from rich.table import Table
    from suite.report import make_console, print_table
    from targets import TARGETS
    t = Table(header_style="bold")
    console = make_console(170)
    for c in ("target", "runs here", "devices", "why / what", "counters", "compile flags"):
        t.add_column(c)
    for target in TARGETS.values():
        a = target.availability()
        runs = "[green]yes[/]" if a.usable else "[yellow]compile-only[/]" if a.compiles else "[red]no[/]"
        t.add_row(target.name, runs, ", ".join(target.devices), a.reason, ", ".join(target.collectors),
                  " ".join(target.flags()))
    console = make_console(170)
    print_table(console, t)
    for target in TARGETS.values():
        if len(target.presets) > 1:
            console.print(f"{target.name} presets (suite run --preset NAME[+NAME][,NAME...] | all):")
            for name, flags in target.presets.items():
                console.print(f"  {name:14s} {' '.join(flags) or '(no extra flags)'}")
    return 0
