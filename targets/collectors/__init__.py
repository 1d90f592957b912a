"""Counter collectors: one registry. Each collector says whether it can run here (and if not,
why), and every value it returns carries its unit, its source kind (hardware / simulated /
static), whether it is an estimate, and the dispatch it belongs to (None = the whole call)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from suite.errors import UserError
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
class Collector:
    name: str
    source: str
    description: str
    probe: Callable[[], Availability]
    collect: Callable[..., list[CounterValue]]     # (context: CollectContext) -> values
    cost: str = "free"                             # free | cheap | expensive (runs the module simulated)

    def availability(self) -> Availability:
        return self.probe()


COLLECTORS: dict[str, Collector] = {}


def register(c: Collector) -> Collector:
    COLLECTORS[c.name] = c
    return c


def get_collector(name: str) -> Collector:
    try:
        return COLLECTORS[name]
    except KeyError:
        raise UserError(f"unknown counter collector {name!r} (known: {', '.join(COLLECTORS)})") from None


from targets.collectors import cachegrind, cpu_samples, device_timestamps, iree_static, ncu, perf  # noqa: E402,F401  (register themselves)
