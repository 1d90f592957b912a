"""A run's result rows and records, read through one typed view.

The stored record is JSON (suite/data/run.schema.json); every reader goes through :class:`Row` and
:class:`Record` rather than indexing the dicts, so what a field means, and its default when an older
record lacks it, is written once. Rows are written through ``suite.runner.WorkloadResult``.
"""
from __future__ import annotations

from suite.stats import kept_samples, rounds_apart

STATUS_OK = "ok"
STATUS_WRONG = "wrong"                 # ran, but its output is not the trained layer's
STATUS_COMPILED = "compiled"           # compile-only target: built (and statically counted), not run
STATUS_REFUSED = "refused"             # a peer runtime that cannot take the workload at all (the reason says why)
# any other status is "<stage>-failed": export, compile, run, time, model


class Row:
    """One stored result row: an IREE workload at one lowering, or a peer runtime's row."""
    __slots__ = ("data",)

    def __init__(self, data: dict):
        self.data = data

    def __repr__(self) -> str:
        return f"Row({self.id!r}, {self.status!r})"

    id = property(lambda self: self.data["id"])
    layer = property(lambda self: self.data["layer"])
    layer_name = property(lambda self: self.data.get("layer_name"))
    method = property(lambda self: self.data["method"])
    algorithm = property(lambda self: self.data.get("algorithm"))
    preset = property(lambda self: self.data.get("preset", "default"))
    layout = property(lambda self: self.data.get("layout"))
    form = property(lambda self: self.data.get("form"))     # the algorithm's form the tuner chose (None: plain)
    status = property(lambda self: self.data["status"])
    reason = property(lambda self: self.data.get("reason", ""))
    runtime = property(lambda self: self.data.get("runtime"), doc="the peer runtime; None for IREE's rows")
    runtime_note = property(lambda self: self.data.get("runtime_note") or "")
    max_abs_err = property(lambda self: self.data.get("max_abs_err"))
    psnr_db = property(lambda self: self.data.get("psnr_db"))
    samples_ms = property(lambda self: self.data.get("samples_ms") or [], doc="every sample, in the order taken")
    rounds_left_out = property(lambda self: self.data.get("rounds_left_out") or [],
                               doc="rounds a slow phase of the machine reached (suite.stats.settle)")
    stats = property(lambda self: self.data.get("stats_ms") or {})
    model = property(lambda self: self.data.get("model") or {}, doc="the model's estimate ({} when none)")
    tuning = property(lambda self: self.data.get("tuning"))
    counters = property(lambda self: self.data.get("counters") or [])

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def is_peer(self) -> bool:
        return bool(self.runtime)

    @property
    def runtime_label(self) -> str:
        return self.runtime or "IREE"

    @property
    def on_fallback(self) -> bool:
        """A peer row whose work ran partly outside the runtime's fast path (e.g. XNNPACK's delegate)."""
        return self.runtime_note.startswith("fallback")

    @property
    def median_ms(self) -> float | None:
        return self.stats.get("median")

    @property
    def timed_samples(self) -> list[float]:
        """The samples its statistics are taken from: those of the rounds no slow phase reached."""
        return kept_samples(self.samples_ms, self.data.get("rounds") or [], self.rounds_left_out)

    @property
    def rounds_apart(self) -> float | None:
        """Its slowest round's median over its fastest's, for a row timed in rounds (None otherwise)."""
        rounds = self.data.get("rounds") or []
        return rounds_apart(self.samples_ms, rounds) if sum(rounds) == len(self.samples_ms) else None

    @property
    def model_ms(self) -> float | None:
        return self.model.get("t_ms")

    @property
    def model_bytes(self) -> float | None:
        return self.model.get("bytes")

    def counter_total(self, collector: str, names: tuple[str, ...]) -> float | None:
        """The sum of whole-call counters ``names`` from ``collector``; None unless all are there."""
        vals = {c["name"]: c["value"] for c in self.counters
                if c["collector"] == collector and not c.get("dispatch") and c["name"] in names}
        return float(sum(vals.values())) if len(vals) == len(names) else None

    def dispatch_values(self, collector: str, name: str) -> list[tuple[float, str]]:
        """(value, dispatch) of one per-dispatch counter."""
        return [(c["value"], c["dispatch"]) for c in self.counters
                if c["collector"] == collector and c["name"] == name and c.get("dispatch")]


class Record:
    """One stored run record."""
    __slots__ = ("data",)

    def __init__(self, data: dict):
        self.data = data

    rows = property(lambda self: [Row(r) for r in self.data["workloads"]])
    iree_rows = property(lambda self: [r for r in self.rows if not r.is_peer])
    peer_rows = property(lambda self: [r for r in self.rows if r.is_peer])
    target = property(lambda self: self.data["target"])
    machine = property(lambda self: self.data["machine"])
    settings = property(lambda self: self.data.get("settings", {}))
    complete = property(lambda self: self.data.get("complete", True))

    @property
    def emulated(self) -> bool:
        """Timed under an emulation (qemu-user, lavapipe): its latencies are not a device's."""
        return bool(self.target.get("emulated"))

    @property
    def under_qemu(self) -> bool:
        """A device's code run under qemu-user (here, or on a fleet's emulated device): correct, not timed."""
        t = self.target
        return self.emulated and (t.get("runner") == "qemu" or t.get("emulator") == "qemu-user")


def as_row(row: Row | dict) -> Row:
    return row if isinstance(row, Row) else Row(row)


def is_ok(row: Row | dict) -> bool:
    return as_row(row).ok


def best_per_workload(rows: list[dict]) -> list[dict]:
    """One row per workload id, in first-seen order: its fastest verified preset, else its first
    verified one (verify-only runs have no times), else its first row."""
    order, best = [], {}
    for r in rows:
        key = as_row(r).id
        cur = best.get(key)
        if cur is None:
            order.append(key)
            best[key] = r
        elif is_ok(r) and (not is_ok(cur) or _median(r) < _median(cur)):
            best[key] = r
    return [best[i] for i in order]


def _median(row: Row | dict) -> float:
    m = as_row(row).median_ms
    return float("inf") if m is None else m


def counter_total(row: Row | dict, collector: str, names: tuple[str, ...]) -> float | None:
    return as_row(row).counter_total(collector, names)


def column_value(row: Row | dict, collector: str, column) -> float | None:
    """A collector's report column (targets.collectors.Column) for one row."""
    return as_row(row).counter_total(collector, column.names)
