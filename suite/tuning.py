"""Tuning: each workload at the fastest verified lowering of its target's search space.

A *candidate* is one way IREE can be asked to compile the same workload: a compilation preset and
a tensor layout at the module's edges (the layout changes the code IREE emits as much as a flag
does), and, for an algorithm with other forms of itself (Algorithm.forms: REVD's phase grid padded
to whole vector tiles), each of the forms that changes the workload's module, in every layout. The
search (``--tune full``, or ``auto`` on a workload the database has not seen) compiles
and verifies every candidate, then races the verified ones: a first probe of two samples each,
candidates over ``ABANDON_RATIO`` x the best so far dropped at once, the better half given more
samples, alternated (a candidate of slow calls only until it has spent ``RACE_MAX_TIME_S``, and at
least ``RACE_FLOOR`` samples), and the winner is the one with the fastest sample. Only the winner is
then timed with the run's full repetitions and counted, and that is the row, with its median.

Races are decided by each candidate's fastest sample, not its median: on a shared machine the noise
only ever adds time, so the minimum is the estimate it disturbs least (Chen & Revels, "Robust
benchmarking in noisy environments", 2016; BenchmarkTools.jl compares by it), and a burst that
slows three of a candidate's eight short samples cannot make it lose. It also leaves out the
first sample of each race process, which runs cold (races take no warm-up): 6% slower than the
process's other samples at the median, over 1.2x in a quarter of them. Re-decided on two
`bench/speed.py` records against the side-by-side timings of the same lowerings, the minimum picked
lowerings 0.9% and 3.3% over the best on average, the median 1.6% and 3.6%. The probe takes two
samples for the same reason: in a noisy stretch, one slowed probe dropped the best lowering (4 of
the 6 rows over 1.2x in the second record).

Decisions go to a tuning database, one JSON file per testbed (machine fingerprint, IREE version,
target, device, threads, allocator policy), so the next run compiles and times only the winner.
A database that is corrupt, of another testbed, or of another search space is never trusted: it
is set aside (renamed, not deleted) and rebuilt, and the run says so.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from suite.errors import UserError
from suite.rounds import allowance, calls_per_sample

TUNE_MODES = ("auto", "none", "full")
SCHEMA = "upsampling-suite/tuning"
VERSION = 1
ABANDON_RATIO = 1.5          # a first sample this much slower than the best so far: not worth more samples
PROBE = (2, 0.02)            # (repetitions, min time s) of the first probe: 20 ms of calls, one call at least
RACE = (3, 0.02)             # of each further round
# a racer's timed seconds past which it stops once it has RACE_FLOOR samples (suite.rounds.allowance):
# ESPCN's 0.3-0.9 s forms took 7 calls each in every racer, a quarter of a cold run's racing
RACE_MAX_TIME_S = 1.0
RACE_FLOOR = 3


@dataclass(frozen=True)
class Candidate:
    preset: str
    layout: str
    form: str = ""               # the algorithm's form ("": its plain one)

    @property
    def label(self) -> str:
        return f"{self.preset}/{self.layout}" + (f"/{self.form}" if self.form else "")

    @classmethod
    def of(cls, d: dict) -> "Candidate":
        """From a database entry or a record's candidate table."""
        return cls(d["preset"], d["layout"], d.get("form", ""))

    def as_dict(self) -> dict:
        return {"preset": self.preset, "layout": self.layout, **({"form": self.form} if self.form else {})}


# Per target, the candidates worth trying, most promising first (the first sets the bar that others
# are abandoned against). llvm-cpu: IREE's default; channels-last convs with NHWC at the edges (no
# transposes left), with 16-float vector tiles; the conv blocked for the vector unit (the trained
# layers, C-BL's 2.4x on FSRCNN r3 included, and TDCF only). bench/speed.py measured these as the
# winners of the full presets x layouts product.
SEARCH_SPACES: dict[str, tuple[Candidate, ...]] = {
    "llvm-cpu": (Candidate("channels-last+wide-vectors", "nhwc-blocked"),
                 Candidate("channels-last+wide-vectors", "nhwc"),
                 Candidate("channels-last", "nhwc"),
                 Candidate("default", "nchw")),
}


def search_space(target, presets: list[str] | None = None, layouts: list[str] | None = None) -> tuple[Candidate, ...]:
    """The target's candidates, or the product of the presets and layouts the user named."""
    if presets or layouts:
        return tuple(Candidate(p, lo) for p in (presets or ["default"]) for lo in (layouts or ["nchw"]))
    return SEARCH_SPACES.get(target.name, tuple(Candidate(p, "nchw") for p in target.presets))


def applies(candidate: Candidate, workload, worth: bool = True) -> bool:
    """Whether the workload has a form in the candidate's layout worth searching (the blocked layout
    exists only for the trained convs and algorithms with a blocked conv; a hand-written kernel is
    searched in the layout it reads)."""
    from workloads.algorithms import ALGORITHMS
    from workloads.methods import TRAINED
    if not hasattr(workload.layer, "with_layout"):          # a whole network: its own layout only
        return candidate.layout == "nchw"
    alg = ALGORITHMS.get(workload.algorithm or "")
    if worth and alg and alg.tuned_layouts and candidate.layout not in alg.tuned_layouts:
        return False
    if candidate.layout != "nhwc-blocked":
        return True
    return workload.method in TRAINED or ALGORITHMS[workload.algorithm].blocked


def variant(workload, layout: str, form: str = ""):
    """The same workload with its layer in ``layout`` (same seeded numbers, transposed), in ``form``."""
    if not hasattr(workload.layer, "with_layout"):
        return workload
    return replace(workload, layer=workload.layer.with_layout(layout), **({"form": form} if form else {}))


def with_forms(candidates: list[Candidate], workload) -> list[Candidate]:
    """The candidates, then each again in every form of the workload's algorithm that changes its module."""
    forms = workload.forms() if hasattr(workload, "forms") else ()
    return candidates + [replace(c, form=f) for f in forms for c in candidates]


def space_labels(space: tuple[Candidate, ...]) -> list[str]:
    """What a database was searched over: the candidates, and the algorithms' forms."""
    from workloads.algorithms import ALGORITHMS
    return [c.label for c in space] + [f"{a.name} form {f}" for a in ALGORITHMS.values() for f in a.form_names]


# ---------------------------------------------------------------------------------------------
# the database

def testbed(machine: dict, iree: str, target: str, device: str, threads: int | None, malloc: str,
            sched: str = "normal") -> dict:
    from suite.calibrate import fingerprint_key
    # the scheduling policy only where it is not the normal one: databases made before it stay valid
    return {"machine": fingerprint_key(machine), "iree": iree, "target": target, "device": device,
            "threads": threads, "malloc": malloc, **({"sched": sched} if sched != "normal" else {})}


class TuningDatabase:
    """Decisions of one testbed: workload id -> the winning candidate and every candidate's median."""

    def __init__(self, folder: Path, bed: dict, space: tuple[Candidate, ...]):
        self.bed, self.space = bed, space_labels(space)
        name = "-".join(str(bed[k]) for k in ("machine", "target", "device")) + f"-t{bed['threads'] or 'auto'}-{bed['malloc']}"
        if bed.get("sched", "normal") != "normal":
            name += f"-{bed['sched']}"
        if tuple(space) != SEARCH_SPACES.get(bed["target"]):
            # a space the user named (--preset/--layout) keeps its own file: a one-off run over other
            # candidates must not set aside the decisions every default run reuses
            name += "-space" + hashlib.sha256("|".join(c.label for c in space).encode()).hexdigest()[:8]
        self.path = Path(folder) / f"{name}.json"
        self.entries: dict[str, dict] = {}
        self.note = ""                          # why an existing file was not trusted, if it was not
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            doc = json.loads(self.path.read_text())
            _validate(doc)
        except (OSError, ValueError) as e:
            return self._set_aside(f"unreadable or corrupt ({str(e).splitlines()[0][:120]})")
        if doc["testbed"] != self.bed:
            return self._set_aside("written for another testbed "
                                   f"({', '.join(k for k in self.bed if doc['testbed'].get(k) != self.bed[k])} differ)")
        if doc["space"] != self.space:
            return self._set_aside("written for another search space")
        self.entries = doc["entries"]

    def _set_aside(self, why: str) -> None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.stem}.untrusted-{stamp}.json")
        try:
            self.path.rename(aside)
            self.note = f"tuning database {self.path} {why}: set aside as {aside.name}, searching again"
        except OSError as e:
            self.note = f"tuning database {self.path} {why}, and could not be set aside ({e}): searching again"

    def get(self, workload_id: str) -> Candidate | None:
        e = self.entries.get(workload_id)
        return Candidate.of(e) if e else None

    def put(self, workload_id: str, winner: Candidate, candidates: list[dict]) -> None:
        self.entries[workload_id] = {**winner.as_dict(), "candidates": candidates,
                                     "decided": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        self.save()

    def save(self) -> None:
        from suite.cache import atomic_write
        doc = {"schema": SCHEMA, "version": VERSION, "testbed": self.bed, "space": self.space,
               "entries": self.entries}
        try:
            atomic_write(self.path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
        except OSError as e:
            raise UserError(f"cannot write the tuning database {self.path}: {e.strerror or e}") from None


_DB_SCHEMA = {
    "type": "object", "required": ["schema", "version", "testbed", "space", "entries"],
    "properties": {
        "schema": {"const": SCHEMA}, "version": {"const": VERSION}, "testbed": {"type": "object"},
        "space": {"type": "array", "items": {"type": "string"}},
        "entries": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["preset", "layout", "candidates"],
            "properties": {"preset": {"type": "string"}, "layout": {"type": "string"}, "form": {"type": "string"},
                           "candidates": {"type": "array"}}}},
    },
}


def _validate(doc) -> None:
    import jsonschema
    try:
        jsonschema.validate(doc, _DB_SCHEMA)
    except jsonschema.ValidationError as e:
        raise ValueError(f"not a tuning database: {e.message}") from None


# ---------------------------------------------------------------------------------------------
# the search

@dataclass
class Entry:
    candidate: Candidate
    workload: object
    result: object                # WorkloadResult so far
    built: object | None = None
    x_path: Path | None = None
    samples: list[float] | None = None
    state: str = ""               # verified | abandoned | raced | failed | wrong

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("inf")

    @property
    def fastest(self) -> float:
        """What the race compares: the fastest sample (see the module's docstring)."""
        return min(self.samples) if self.samples else float("inf")

    def summary(self) -> dict:
        """What the record and the database keep of a candidate: its race samples too, so that how
        a race was decided can be checked, or decided again by another statistic, from any record."""
        return {**self.candidate.as_dict(), "status": self.state or self.result.status, "reason": self.result.reason,
                "median_ms": None if not self.samples else self.median,
                "min_ms": None if not self.samples else self.fastest, "samples": len(self.samples or []),
                "samples_ms": list(self.samples or [])}


class Tuner:
    """Runs each workload at its tuned lowering through a Runner (whose presets are ignored)."""

    def __init__(self, runner, space: tuple[Candidate, ...], db: TuningDatabase | None, mode: str):
        self.runner, self.space, self.db, self.mode = runner, space, db, mode
        self.prepared: dict[str, list[Entry]] = {}     # built ahead by prepare(), taken by choose()

    def run(self, workloads: list, on_progress: Callable | None = None, on_result: Callable | None = None,
            skip: set[str] = frozenset()) -> list:
        results = []
        todo = [w for w in workloads if w.id not in skip]
        for i, w in enumerate(todo):
            if i == 0 or w.layer.id != todo[i - 1].layer.id:          # a layer's modules, built together
                self.prepare(list(itertools.takewhile(lambda v: v.layer.id == w.layer.id, todo[i:])), on_progress)
            res = self.tune(w, on_progress)
            results.append(res)
            if on_result:
                on_result(res)
        return results

    def tune(self, w, on_progress: Callable | None = None):
        entry, tuning = self.choose(w, on_progress)
        if entry.built is None:                        # nothing to time: the row is final
            return self.relabel(w, entry, tuning)
        return self._finish(w, entry, tuning, on_progress)

    def choose(self, w, on_progress: Callable | None = None) -> tuple[Entry, dict]:
        """The lowering to report for ``w``: from the database, or searched and raced now; with its
        module built and verified (``entry.built``) unless no candidate verified. Timing it is the
        caller's: :meth:`tune` times it at once, a run with peers in rounds (suite.rounds)."""
        candidates, known = self._candidates(w)
        prepared = self.prepared.pop(w.id, None)
        if known is not None:
            entry = prepared[0] if prepared else self._prepare(w, known, on_progress)
            if entry.built is not None:
                return entry, {"source": "database", "candidates": self.db.entries[w.id]["candidates"]}
            # the stored winner no longer verifies (a new compiler, a changed workload): search again
            prepared = None
        entries = prepared or self._build([(w, candidates)], on_progress)[0]
        live = [e for e in entries if e.built is not None]
        if not live:                                  # nothing verified: report the most telling failure
            worst = next((e for e in entries if e.result.status == "wrong"), entries[0])
            return worst, {"source": "search", "candidates": [e.summary() for e in entries]}
        self._race(w, live, on_progress)
        # the winner comes from the race: an abandoned candidate's one probe is no match for raced samples
        winner = min((e for e in live if e.state == "raced"), key=lambda e: e.fastest, default=None)
        table = [e.summary() for e in entries]
        if winner is None:
            live[0].built = None                       # every candidate failed its race: nothing to time
            return live[0], {"source": "search", "candidates": table}
        if self.db:
            self.db.put(w.id, winner.candidate, table)
        return winner, {"source": "search", "candidates": table}

    def _prepare(self, w, c: Candidate, on_progress, exported=None) -> Entry:
        v = variant(w, c.layout, c.form)
        say = (lambda wl, stage: on_progress(w, f"{stage} [{c.label}]")) if on_progress else None
        res, built, x_path = self.runner.prepare(v, c.preset, exported, say)
        return Entry(c, v, res, built, x_path, state="verified" if built is not None else "")

    def _candidates(self, w) -> tuple[list[Candidate], Candidate | None]:
        """The candidates worth searching (else, where the layouts named leave none, every one it has
        a form in), and the database's choice among them when the run may reuse it."""
        candidates = [c for c in self.space if applies(c, w)] or [c for c in self.space if applies(c, w, False)]
        candidates = with_forms(candidates, w)
        known = self.db.get(w.id) if (self.db and self.mode == "auto") else None
        return candidates, (known if known in candidates else None)

    def prepare(self, workloads: list, on_progress=None) -> None:
        """Every candidate of these workloads (a layer's) built and verified before any of them is
        raced: the database's choice where there is one, else every candidate. Then the compiles
        flow from one workload into the next, rather than the CPUs idling at each workload's last
        compile and first export; and they are all finished before anything is timed. ``choose``
        takes what was built here."""
        items = [(w, [known] if known is not None else candidates)
                 for w in workloads for candidates, known in [self._candidates(w)]]
        for (w, _), entries in zip(items, self._build(items, on_progress)):
            self.prepared[w.id] = entries

    def _build(self, items: list[tuple], on_progress) -> list[list[Entry]]:
        """The candidates of each (workload, candidates) built and verified. Each layout is exported
        once, here (torch's export holds the GIL), and each candidate starts compiling as soon as its
        layout is exported: the compiles and verifications run side by side with the next export, as
        many at a time as there are CPUs. iree-compile and iree-run-module are processes, and nothing
        is timed until every one has finished. Measured on 2 cores, cold runs of fsrcnn-r3 (`suite
        run -l fsrcnn-r3 --peers none` with an empty cache), each step against the one before, run in
        alternation: the compiles side by side, 14-27% less time; starting them during the exports,
        167, 132 and 126 s against 165, 146 and 136 s; a whole layer's compiles flowing together
        (``prepare``), 140 and 117 s against 145 and 138 s."""
        from concurrent.futures import ThreadPoolExecutor
        from suite.record import usable_cpus
        from targets.iree_run import StageError
        jobs = min(sum(len(cs) for _, cs in items), usable_cpus())
        pool = ThreadPoolExecutor(jobs) if jobs > 1 else None
        pending = []
        try:
            for w, candidates in items:
                exported, mine = {}, []
                for c in candidates:
                    if (c.layout, c.form) not in exported:
                        v = variant(w, c.layout, c.form)
                        try:
                            exported[c.layout, c.form] = self.runner.export(v)
                            self.runner.data.reference(v)  # shared by the threads: computed before them
                        except StageError as e:
                            exported[c.layout, c.form] = e
                    args = (w, c, on_progress, exported[c.layout, c.form])
                    mine.append(pool.submit(self._prepare, *args) if pool else self._prepare(*args))
                pending.append(mine)
            return [[f.result() for f in mine] if pool else mine for mine in pending]
        finally:                                         # Ctrl-C: start no more, wait only for those running
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)

    def _race(self, w, live: list[Entry], on_progress) -> None:
        from targets.iree_run import StageError
        best = float("inf")
        for e in live:                                 # the probe: two samples each, hopeless ones dropped
            if on_progress:
                on_progress(w, f"tune [{e.candidate.label}]")
            try:
                e.samples = self.runner.sample(e.built, e.x_path, *PROBE)
            except StageError as err:
                e.state, e.result.reason = "failed", str(err)
                continue
            if e.fastest > ABANDON_RATIO * best:
                e.state = "abandoned"
            best = min(best, e.fastest)
        racing = sorted((e for e in live if e.state == "verified"), key=lambda e: e.fastest)
        racing = racing[:max(1, (len(racing) + 1) // 2)]
        for e in live:
            if e.state == "verified" and e not in racing:
                e.state = "abandoned"
        if len(racing) > 1:
            for _ in range(2):                          # alternated rounds: drift hits every candidate alike
                for e in racing:
                    per = max(e.median / 1e3, RACE[1])  # seconds a sample takes
                    k = allowance(RACE[0], len(e.samples), per * len(e.samples), RACE_MAX_TIME_S, RACE_FLOOR)
                    if not k:
                        continue
                    try:                                # the probe's call time sets the calls per sample
                        e.samples += self.runner.sample(e.built, e.x_path, k, RACE[1],
                                                        calls_per_sample(e.median, RACE[1]))
                    except Exception as err:            # noqa: BLE001 - a candidate failing mid-race drops out
                        e.state, e.result.reason = "failed", str(err)
        for e in racing:
            if e.state == "verified":
                e.state = "raced"

    def _finish(self, w, entry: Entry, tuning: dict, on_progress):
        say = (lambda wl, stage: on_progress(w, f"{stage} [{entry.candidate.label}]")) if on_progress else None
        self.runner.measure(entry.workload, entry.built, entry.x_path, entry.result, say, self.known_ms(entry, tuning))
        return self.relabel(w, entry, tuning)

    @staticmethod
    def known_ms(entry: Entry, tuning: dict) -> float | None:
        """The chosen lowering's call time as the search measured it (now, or in the database)."""
        return next((c.get("median_ms") for c in tuning.get("candidates", []) if Candidate.of(c) == entry.candidate),
                    None)

    @staticmethod
    def relabel(w, entry: Entry, tuning: dict):
        """The row is the workload the user asked for; its layout says how it was run."""
        res = entry.result
        res.id, res.layer, res.layer_name = w.id, w.layer.id, w.layer.name
        res.layout, res.form = entry.candidate.layout, entry.candidate.form or None
        res.tuning = {**tuning, "chosen": entry.candidate.label}
        return res
