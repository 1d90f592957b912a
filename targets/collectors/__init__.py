"""Counter collectors: one registry. Each collector says whether it can run here (and if not,
why), and every value it returns carries its unit, its source kind (hardware / simulated /
static), whether it is an estimate, and the dispatch it belongs to (None = the whole call)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from workloads.errors import UserError
from targets import Availability

SOURCES = ("hardware", "simulated", "static")


@dataclass(frozen=True)
class CounterValue:
    name: str
    value: float
    unit: str
    source: str                  # hardware | simulated | static
    estimate: bool
    collector: str
    dispatch: str | None = None
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CollectContext:
    """What a collector may know and ask about the workload it counts (never the runner itself)."""
    vmfb: Path
    x_path: Path
    device: str
    timeout: float                                  # seconds one run of the module may take
    emulated: bool                                  # the device is an emulation (lavapipe, qemu)
    runtime_flags: Callable[[str], list[str]]       # device -> the runtime flags of this run's target
    static_summary: Callable[[], dict]              # the module's static summary (iree-static)
    rebuild: Callable[[Callable[[list[str]], list[str]]], Path]   # flags -> flags': the rebuilt module's vmfb
    env: dict[str, str] = field(default_factory=dict)             # the timed processes' extra environment
    launcher: object = None                                        # targets.edge.Launcher (None: this host)

    def command(self, tool: str = "iree-run-module", device: str | None = None,
                vmfb: Path | None = None) -> list[str]:
        """A runtime command calling main(x) on this workload's module (or ``vmfb``, a rebuild of it)."""
        from targets.iree_run import module_command
        extra = ["--output="] if tool == "iree-run-module" else []
        return module_command(tool, vmfb or self.vmfb, self.runtime_flags(device or self.device), [self.x_path],
                              extra, self.launcher)


@dataclass(frozen=True)
class Column:
    """A column a collector contributes to the result tables: the sum of whole-call counters."""
    header: str
    names: tuple[str, ...]                 # counters summed (all must be present)
    unit: str = "B"                        # B | ms
    vs_model: bool = False                 # also show it over the model's bytes
    traffic: str = ""                      # a kind of bytes for the traffic claim and the verdict


@dataclass(frozen=True)
class Collector:
    name: str
    source: str
    description: str
    probe: Callable[[], Availability]
    collect: Callable[..., list[CounterValue]]     # (context: CollectContext) -> values
    cost: str = "free"                             # free | cheap | expensive (not run unless asked: a simulation,
                                                   # a rebuild, or a further benchmark of every row)
    columns: tuple[Column, ...] = ()               # what the reports show of it (suite/report.py names none)
    # notes read back only the collector's own counter values (a row's list of counters), never the row
    row_note: Callable[[list[dict]], str] | None = None   # a line under a layer's table for one row ("" for none)
    row_note_label: str = ""
    layer_note: Callable[[list[list[dict]], dict], str | None] | None = None  # (rows' counters, settings) -> hint

    def availability(self) -> Availability:
        return self.probe()


COLLECTORS: dict[str, Collector] = {}


def register(c: Collector) -> Collector:
    COLLECTORS[c.name] = c
    return c


def report_columns() -> list[tuple[str, Column]]:
    """(collector, column) of every registered collector, in registry order."""
    return [(name, col) for name, c in COLLECTORS.items() for col in c.columns]


def traffic_column(kind: str) -> tuple[str, Column] | None:
    return next(((n, c) for n, c in report_columns() if c.traffic == kind), None)


def get_collector(name: str) -> Collector:
    try:
        return COLLECTORS[name]
    except KeyError:
        raise UserError(f"unknown counter collector {name!r} (known: {', '.join(COLLECTORS)})") from None


from targets.collectors import (cachegrind, cpu_samples, device_timestamps, dispatch_times,  # noqa: E402,F401
                                iree_static, ncu, page_faults, perf)   # (register themselves)
