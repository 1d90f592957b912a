"""A run as a library: the plan (everything that defines a run, validated, stored in the record so
that a run can be resumed), and the life-cycle of its record: start or resume, one row per finished
workload with the model beside it, saving after every row, the model's agreement at the end, the
exit code. The CLI command (`suite/commands/run_cmd.py`) adds only argument parsing, the progress
bar and signals; tests and bench/ drive runs through :func:`make_plan` and :class:`Run`.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from suite.errors import UserError
from suite.paths import PROFILES_DIR, RESULTS_DIR, TUNING_DIR, find_run
from suite.rounds import MAX_TIME_S
from suite.rows import STATUS_COMPILED, STATUS_OK, Record, best_per_workload
from suite.selection import check_target, csv_list, resolve_collectors, resolve_layers, resolve_profile, run_threads
from targets.iree_run import SAMPLE_PARTS

# a finished row reaches the record on disk within this many seconds (and at the end of each layer):
# writing the whole record after every row took 4 of a warm run's 270 s (274 writes of a record
# that grows to 1.5 MB). A run stopped by Ctrl-C writes everything it has in finish().
CHECKPOINT_S = 2.0

MIN_REPETITIONS = 9
ROUNDS_NOTE = ("a layer's IREE rows (and peers) take their samples in alternating rounds; a row whose rounds "
               "disagree takes one more (suite.rounds)")
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass(frozen=True)
class RunPlan:
    """Everything that defines a run, resolved and validated, as plain JSON-able values."""
    target: str
    device: str
    threads: int | None
    layers: list[dict]
    methods: list[str] | None = None
    algorithms: list[str] | None = None
    networks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)          # ONNX files
    input_shape: list[int] | None = None                     # for the ONNX files
    presets: list[str] = field(default_factory=lambda: ["default"])
    seed: int = 0
    malloc: str = "system"
    sched: str = "normal"                      # scheduling policy of the timed processes (suite.sched), resolved
    repetitions: int = 10
    min_time: float = 0.05
    max_time: float | None = MAX_TIME_S                # a row's timed seconds past which it stops at 5 samples (suite.rounds)
    verify_only: bool = False
    counters: str = "auto"
    profile: str = "calibrated"
    accounting: str = "full"
    compile_timeout: float = 600.0
    run_timeout: float = 600.0
    tune: str = "none"                         # auto | none | full (suite.tuning)
    peers: str = "none"                        # peer runtimes beside IREE: auto | none | a list (targets.peers)
    runner: str = "local"                      # where modules run: local | qemu (targets.edge)
    space: list[list[str]] | None = None        # the tuner's candidates, [preset, layout] each

    @property
    def tuned(self) -> bool:
        return self.tune != "none"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict) -> "RunPlan":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def layer_configs(self) -> list:
        from workloads.layer import LayerConfig
        return [LayerConfig(**d) for d in self.layers]

    def workloads(self) -> list:
        from workloads.networks import network_workloads
        from workloads.workload import expand
        from targets import get_target
        arch = get_target(self.target).cpu_arch
        out = expand(self.layer_configs(), self.methods, self.algorithms, arch) + network_workloads(
            self.networks, self.algorithms)
        if self.models:
            from workloads.onnx_models import model_workloads
            for m in self.models:
                out += model_workloads(m, self.input_shape, self.algorithms)
        return out


def make_plan(*, target: str = "llvm-cpu", device: str | None = None, threads: int | None = None,
              catalogues: list[str] = (), layers: list[str] = (), layouts: list[str] | None = None,
              networks: list[str] = (), models: list[str] = (), input_shape: list[int] | None = None,
              methods: list[str] | None = None, algorithms: list[str] | None = None,
              presets: list[str] | None = None, seed: int = 0, malloc: str = "system", sched: str = "normal",
              repetitions: int = 10,
              min_time: float = 0.05, max_time: float | None = MAX_TIME_S, verify_only: bool = False, counters: str = "auto",
              profile: str = "calibrated", accounting: str = "full", compile_timeout: float = 600.0,
              run_timeout: float = 600.0, tune: str | None = None, peers: str = "none",
              runner: str = "local") -> RunPlan:
    """A validated plan; every mistake is a UserError now, before any work.

    ``tune``: None picks 'auto' (each workload at its tuned lowering) unless presets or layouts are
    named, which then run as named ('none'); 'auto' or 'full' with presets or layouts named searches
    their product instead of the target's own space."""
    from suite.tuning import TUNE_MODES, search_space
    from suite.malloc import malloc_env
    from workloads.networks import network_workloads
    from workloads.workload import expand
    t, device = check_target(target, device, threads)
    threads = run_threads(t, device, threads, runner)
    if repetitions < MIN_REPETITIONS:
        raise UserError(f"--repetitions must be at least {MIN_REPETITIONS} for a median and IQR worth reporting")
    if min_time <= 0:
        raise UserError("--min-time must be positive")
    if compile_timeout <= 0 or run_timeout <= 0:
        raise UserError("--compile-timeout and --run-timeout must be positive")
    named_presets, named_layouts = csv_list(presets), csv_list(layouts)
    if tune is None:          # verify-only has nothing to race; named presets/layouts run as named; emulated
        tune = "none" if (named_presets or named_layouts or verify_only or runner != "local") else "auto"  # times are no guide
    if tune not in TUNE_MODES:
        raise UserError(f"--tune: unknown mode {tune!r} (known: {', '.join(TUNE_MODES)})")
    asked = named_presets or ["default"]
    preset_list = list(t.presets) if "all" in asked else list(dict.fromkeys(asked))
    for p in preset_list:
        t.flags(p)                                        # unknown preset: a clear error now, not per workload
    resolve_collectors(counters)
    from suite.selection import check_profile_name
    check_profile_name(profile)                            # even where it is not used (--verify-only): a typo
    space = None
    if tune != "none":
        from workloads.layer import LAYOUTS
        for lo in named_layouts or []:
            if lo not in LAYOUTS:
                raise UserError(f"--layout: unknown layout {lo!r} (known: {', '.join(LAYOUTS)})")
        cands = search_space(t, preset_list if named_presets else None, named_layouts)
        for c in cands:
            t.flags(c.preset)
        space = [[c.preset, c.layout] for c in cands]
        preset_list = list(dict.fromkeys(c.preset for c in cands))
        named_layouts = None                              # the tuner picks the layout per workload
    layer_list = (resolve_layers(list(catalogues), list(layers), named_layouts)
                  if (catalogues or layers or not (networks or models)) else [])
    methods, algorithms = csv_list(methods), csv_list(algorithms)
    expand(layer_list, methods, algorithms, t.cpu_arch)   # unknown method / algorithm: a clear error now
    network_workloads(list(networks), algorithms)
    if input_shape and not models:
        raise UserError("--input-shape sets the input of --model files; there is none")
    if models:
        from workloads.onnx_models import model_workloads
        for m in models:
            model_workloads(m, input_shape, algorithms)          # a bad file or shape: a clear line now
    malloc_env(malloc)                                    # retain without glibc: a clear error now
    from suite.sched import resolve
    # auto decided now; fifo where not permitted: a clear error. An emulator's timings are no device's
    # latency, so qemu runs keep the normal policy
    sched = resolve(sched) if runner == "local" else "normal"
    return RunPlan(target=t.name, device=device, threads=threads, seed=seed, malloc=malloc, sched=sched,
                   repetitions=repetitions,
                   min_time=min_time, max_time=max_time, verify_only=verify_only, presets=preset_list, counters=counters,
                   profile=profile, accounting=accounting, compile_timeout=compile_timeout,
                   run_timeout=run_timeout, layers=[dataclasses.asdict(lay) for lay in layer_list],
                   methods=methods, algorithms=algorithms, networks=list(networks),
                   models=[str(Path(m).resolve()) for m in models], input_shape=input_shape, tune=tune, space=space,
                   peers=peers, runner=runner)


@dataclass(frozen=True)
class Storage:
    """Where a run's record and modules go."""
    results_dir: Path = RESULTS_DIR
    save: bool = True                       # store the record in results_dir
    json_path: Path | None = None           # also write it here
    cache_dir: Path | None = None
    use_cache: bool = True
    profiles_dir: Path = PROFILES_DIR
    tuning_dir: Path = TUNING_DIR


def _all_rounds_at_once(command: str, samples: int) -> str:
    """The row's timing command: the last round's, asking for all of the row's samples, so that it
    reproduces the row in one process (the rounds themselves are in the row's ``rounds``)."""
    import re
    return re.sub(r"--benchmark_repetitions=\d+", f"--benchmark_repetitions={samples}", command)


class Run:
    """One run's record from start (or resume) to its exit code."""

    def __init__(self, plan: RunPlan, storage: Storage, record: dict | None = None, path: Path | None = None,
                 say: Callable[[str], None] = lambda text: None):
        from suite.cache import CompileCache
        from suite.record import default_path
        from suite.runner import RunOptions
        self.plan, self.storage, self.say = plan, storage, say
        target, device = check_target(plan.target, plan.device, plan.threads)
        self.layers = {lay.id: lay for lay in plan.layer_configs()}
        collectors, self.collector_notes = resolve_collectors(plan.counters, target)
        from targets.edge import launcher
        self.launcher = launcher(plan.runner, target.name)
        avail = target.availability()
        if self.launcher.emulated:                # a cross target's real code, run under qemu-user here
            from targets import Availability
            avail = Availability(True, f"emulated under {Path(self.launcher.prefix[0]).name}: timings are not "
                                       "device times", device_name=f"{target.description}, emulated by qemu-user",
                                 emulated=True)
        if not avail.usable and not avail.compiles:
            raise UserError(f"target {target.name} is not usable on this machine: {avail.reason}")
        self.compile_only = "" if avail.usable else avail.reason
        self.cache = CompileCache(storage.cache_dir, enabled=storage.use_cache)
        self.profile = None
        if plan.profile != "none" and not plan.verify_only and not self.compile_only:
            self.profile = resolve_profile(
                plan.profile, target.name, device, plan.threads, storage.profiles_dir, storage.cache_dir,
                on_calibrate=lambda t, d: say(f"calibrating {t}/{d} once for this machine..."),
                bandwidth_now=self.launcher.name == "local")
        self.options = RunOptions(target=target, device=device, threads=plan.threads, seed=plan.seed,
                                  repetitions=plan.repetitions, min_time_s=plan.min_time, max_time_s=plan.max_time,
                                  compile_timeout_s=plan.compile_timeout, run_timeout_s=plan.run_timeout,
                                  verify_only=plan.verify_only, presets=tuple(plan.presets),
                                  collectors=tuple(collectors), compile_only=self.compile_only, malloc=plan.malloc,
                                  sched=plan.sched, launcher=self._timed_launcher())
        self.record = record if record is not None else self._new_record(avail)
        self.path = path if record is not None else (
            default_path(self.record, storage.results_dir) if storage.save else storage.json_path)
        self.done = {(r.id, r.preset) for r in Record(self.record).rows}
        self._unsaved: list[dict] = []                      # rows not yet on disk (checkpoint)
        self._saved_at = time.monotonic()
        from workloads.networks import NetworkWorkload
        planned = plan.workloads()
        self.networks = {w.id: w for w in planned if isinstance(w, NetworkWorkload)}
        from workloads.onnx_models import OnnxWorkload
        self.onnx = {w.id: w for w in planned if isinstance(w, OnnxWorkload)}
        if plan.tuned:                                      # one row per workload, at its chosen lowering
            done_ids = {i for i, _ in self.done}
            self.pending = [w for w in planned if w.id not in done_ids]
        else:
            self.pending = [w for w in planned if any((w.id, p) not in self.done for p in plan.presets)]
        self.tuning_db = self._tuning_db() if plan.tuned and not plan.verify_only and not self.compile_only else None
        self.interrupted = False

    def _timed_launcher(self):
        """How the runtime tools start: None on this host as they come; qemu-user for an emulated
        target; either behind chrt under --sched fifo (suite.sched)."""
        from suite.sched import command_prefix
        launcher = None if self.launcher.name == "local" else self.launcher
        prefix = command_prefix(self.plan.sched)
        if prefix:
            launcher = dataclasses.replace(self.launcher, prefix=(*prefix, *self.launcher.prefix))
        return launcher

    def _tuning_db(self):
        from suite.build import compiler_version
        from suite.tuning import Candidate, TuningDatabase, testbed
        bed = testbed(self.record["machine"], compiler_version(), self.plan.target, self.options.device,
                      self.plan.threads, self.plan.malloc, self.plan.sched)
        db = TuningDatabase(self.storage.tuning_dir, bed, tuple(Candidate(*c) for c in self.plan.space))
        if db.note:
            self.say(f"[yellow]{db.note}[/]")
        self.record["settings"]["tuning_db"] = str(db.path)
        return db

    @classmethod
    def resume(cls, spec: str, storage: Storage, say: Callable[[str], None] = lambda text: None) -> "Run":
        plan, record, path = load_resumable(spec, storage)
        return cls(plan, storage, record, path, say)

    def _new_record(self, avail) -> dict:
        from suite.record import new_record
        from suite.tuning import Candidate, space_labels
        plan, o, target = self.plan, self.options, self.options.target
        settings = {"seed": plan.seed, "repetitions": plan.repetitions, "min_time_s": plan.min_time,
                    "max_time_s": plan.max_time, "warmup_s": o.warmup_s, "sample_parts": SAMPLE_PARTS,
                    "verify_only": plan.verify_only, "layers": list(self.layers),
                    "compile_flags": list(target.compile_flags), "runtime_flags": o.runtime_flags(),
                    "malloc": o.malloc, "sched": o.sched, "runtime_env": o.runtime_env(),
                    "presets": {p: list(target.preset_flags(p)) for p in plan.presets},
                    "timer": "iree-benchmark-module real_time (mean per call within each repetition)",
                    "tune": plan.tune,
                    "search_space": space_labels(tuple(Candidate(*c) for c in plan.space)) if plan.space else [],
                    "plan": plan.to_json()}
        record = new_record(target.name, o.device, plan.threads, settings)
        record["target"].update({"device_name": avail.device_name, "emulated": avail.emulated,
                                 "runs_here": avail.usable, "note": avail.reason, "compile_flags": target.flags(),
                                 "runner": plan.runner})
        if self.launcher.emulated:
            record["target"]["emulator"] = "qemu-user"
        record["counters"] = self.collector_notes
        if self.profile:
            record["model"] = {"profile": profile_summary(self.profile), "accounting": plan.accounting}
        return record

    def add(self, result) -> dict | None:
        """Store one finished workload (a WorkloadResult) with the model beside it; saved within
        CHECKPOINT_S, and at the end of each layer."""
        if (result.id, result.preset) in self.done:
            return None
        if self.plan.tuned and result.id in {i for i, _ in self.done}:
            return None
        row = result.to_json()
        if self.profile:
            try:
                row["model"] = self._model_entry(result)
                if row["model"]:
                    from suite.model_check import add_compiled_terms
                    add_compiled_terms(row["model"], row, self.profile)
            except Exception as e:                              # noqa: BLE001 - the measurement stands without it
                row["model"], row["model_error"] = None, f"{type(e).__name__}: {e}"
        self.record["workloads"].append(row)
        self.done.add((result.id, result.preset))
        self._unsaved.append(row)
        if time.monotonic() - self._saved_at >= CHECKPOINT_S:
            self.checkpoint()
        return row

    def checkpoint(self) -> None:
        """The record with its finished rows, on disk (each new row validated on its own)."""
        from suite.record import write_record
        if self.path and self._unsaved:
            write_record(self.record, self.path, self._unsaved)
        self._unsaved, self._saved_at = [], time.monotonic()

    def _model_entry(self, result) -> dict | None:
        """The model's estimate for a row (a model that fails is noted in the row by :meth:`add`)."""
        from suite.model_check import entry_from_counts, model_entry
        if result.layer in self.layers:
            return model_entry(self.layers[result.layer], result.method, result.algorithm, self.profile,
                               self.plan.accounting)
        if result.id in self.networks:
            from workloads.networks import network_model_counts
            return entry_from_counts(network_model_counts(self.networks[result.id], self.plan.seed),
                                     self.profile, "full")
        if result.id in self.onnx:
            from workloads.onnx_graph import graph_counts
            return entry_from_counts(graph_counts(self.onnx[result.id].model()), self.profile, "full")
        return None

    def execute(self, on_progress: Callable | None = None, on_row: Callable[[dict], None] | None = None) -> None:
        """Run every pending workload with every preset, and the peers beside each layer: a layer's
        IREE rows and its peers are timed in alternating rounds (suite.rounds). KeyboardInterrupt
        (raised by a callback or a signal handler) stops the run and keeps what is done."""
        from suite.runner import Runner
        runner = Runner(self.options, self.cache)
        tuner = None
        if self.plan.tuned and not self.plan.verify_only and not self.compile_only:
            from suite.tuning import Candidate, Tuner
            tuner = Tuner(runner, tuple(Candidate(*c) for c in self.plan.space), self.tuning_db, self.plan.tune)
        peers = self._peers()
        from suite.peers import PeerPool
        pool = PeerPool(self.options, self.cache.root if self.cache.enabled else None)

        def on_result(res):
            row = self.add(res)
            if row is not None and on_row:
                on_row(row)
        try:
            rest = self.pending
            if peers or self._timed_in_rounds():
                from suite.rounds import RETAKE_SAMPLES, RETAKES, ROUNDS, SPLIT_RATIO
                self.record["settings"]["rounds"] = {"rounds": ROUNDS, "how": ROUNDS_NOTE,
                                                     "retakes": RETAKES, "retake_samples": RETAKE_SAMPLES,
                                                     "split_ratio": SPLIT_RATIO,
                                                     "peers": [p.name for p in peers]}
                covered = set()
                for subject, ws, methods in self._peer_subjects():
                    self._in_rounds(subject, ws, methods, runner, tuner, peers, pool, on_progress, on_result)
                    self.checkpoint()
                    covered |= {w.id for w in ws}
                rest = [w for w in self.pending if w.id not in covered]
            if tuner:
                tuner.run(rest, on_progress, on_result, skip={i for i, _ in self.done})
            else:
                runner.run(rest, on_progress, on_result, skip=self.done)
            self.record["complete"] = True
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            pool.close()
            self.checkpoint()

    def _timed_in_rounds(self) -> bool:
        """Whether IREE's rows are timed in rounds even without peers: wherever they are timed, except
        under an emulator (each round starts qemu-user again, and its times are not device times)."""
        return not (self.plan.verify_only or self.compile_only or self.launcher.emulated)

    def _peers(self) -> list:
        """The peer runtimes that run beside IREE here (host CPU targets, timed runs); every peer asked
        for is noted in the record, with its reason where it is not used."""
        from targets.peers import resolve
        peers, missing = resolve(self.plan.peers)
        self.record["peers"] = {**{name: {"used": False, "reason": why} for name, why in missing.items()},
                                **{p.name: {"used": True, "version": p.version(), "settings": p.settings}
                                   for p in peers}}
        if self.plan.verify_only or self.compile_only or self.plan.target != "llvm-cpu":
            return []
        return peers

    def _peer_subjects(self) -> list[tuple]:
        """(peer subject, its pending IREE workloads, its methods): each layer with the plan's
        methods, each network and ONNX model as trained and deployed."""
        from suite.peers import layer_subject, network_subject
        from workloads.methods import METHODS
        out = [(layer_subject(layer), [w for w in self.pending if w.layer.id == layer.id],
                self.plan.methods or list(METHODS)) for layer in self.layers.values()]
        wholes = list(self.networks.values()) + list(self.onnx.values())
        for group in dict.fromkeys(w.layer.id for w in wholes):
            ws = [w for w in wholes if w.layer.id == group]
            methods = ["trained"] + (["deployed"] if any(w.method == "deployed" for w in ws) else [])
            out.append((network_subject(ws[0]), [w for w in self.pending if w.layer.id == group], methods))
        return out

    def _in_rounds(self, subject, ws: list, methods: list[str], runner, tuner, peers, pool, on_progress,
                   on_result) -> None:
        """One layer or network: IREE's rows built and verified (at their tuned lowering), each peer
        started and verified, then every verified row timed in alternating rounds."""
        from suite.peers import PeerSession
        from suite.rounds import Side, alternate, calls_per_sample, order, planned
        from targets.iree_run import StageError
        iree = []                          # (workload, built, input, row, the row to report, known call ms)
        if tuner:
            tuner.prepare(ws, on_progress)
        for w in ws:
            if tuner:
                entry, tuning = tuner.choose(w, on_progress)
                final = (lambda w=w, entry=entry, tuning=tuning: tuner.relabel(w, entry, tuning))
                if entry.built is None:
                    on_result(final())
                    continue
                iree.append((entry.workload, entry.built, entry.x_path, entry.result, final,
                             tuner.known_ms(entry, tuning)))
                continue
            try:
                exported = runner.export(w)
            except StageError as e:
                exported = e
            for preset in [p for p in self.plan.presets if (w.id, p) not in self.done]:
                res, built, x_path = runner.prepare(w, preset, exported, on_progress)
                if built is None:
                    on_result(res)
                    continue
                iree.append((w, built, x_path, res, (lambda res=res: res), None))
        todo = [m for m in methods if any((f"{subject.id}/{m}@{p.name}", "default") not in self.done for p in peers)]
        if not iree and not todo:
            return
        if on_progress and todo:
            from types import SimpleNamespace
            on_progress(SimpleNamespace(id=f"{subject.id}: {', '.join(p.name for p in peers)}"), "peers")
        # every peer builds at once (nothing is being timed yet), then each one's rows are collected
        sessions = [PeerSession(p, subject, todo, pool.get(p), self.plan.run_timeout) for p in peers] if todo else []
        sessions = [s.wait() for s in sessions]

        def iree_take(built, x_path, known_ms):
            calls = [calls_per_sample(known_ms, runner.options.min_time_s)]

            def take(k):                                   # later rounds: as many calls per sample as the first
                t = runner.time(built, x_path, k, calls[0])
                calls[0] = t.iterations[0] if t.iterations else calls[0]
                return t.samples_ms, t.iterations, t.command
            return take

        def peer_take(session, method):
            def take(k):
                samples, iterations = session.sample(method, k)
                return samples, iterations, session.command
            return take
        iree_sides = [Side(res.method, iree_take(built, x_path, known),
                           plan=planned(known, runner.options.min_time_s, self.plan.repetitions, self.plan.max_time))
                      for _, built, x_path, res, _, known in iree]
        peer_sides = {(s.peer.name, m): Side(m, peer_take(s, m), iree=False)
                      for s in sessions for m in todo if s.ready(m)}
        if on_progress:
            from types import SimpleNamespace

            def between(i):
                on_progress(SimpleNamespace(id=f"{subject.id}: IREE" + (" and peers" if peers else "")),
                            f"round {i + 1}")
        alternate(order(iree_sides + list(peer_sides.values()), methods), self.plan.repetitions,
                  between=between if on_progress else None, max_time_s=self.plan.max_time)
        for (w, built, x_path, res, final, _), side in zip(iree, iree_sides):
            if isinstance(side.failed, StageError):
                runner.failed(res, side.failed)
            elif side.failed is not None:
                res.status, res.reason = "time-failed", f"{type(side.failed).__name__}: {side.failed}"
            else:
                res.rounds = side.rounds
                runner.record_timing(w, built, x_path, res, side.samples, side.iterations,
                                     _all_rounds_at_once(side.command, len(side.samples)), on_progress)
            on_result(final())
        for s in sessions:
            for m in todo:
                side = peer_sides.get((s.peer.name, m))
                failed = str(side.failed) if side is not None and side.failed is not None else ""
                on_result(s.result(m, side.samples if side else [], side.iterations if side else [], failed,
                                   side.rounds if side else None))

    def finish(self) -> list[Path]:
        """The model's agreement with the measurement; the record written where it belongs."""
        from suite.model_check import agreement
        from suite.record import write_record
        from suite.verdict import record_verdict
        if self.profile or self.record.get("model"):                              # the peers have rows of their own
            self.record["model"].update(agreement(best_per_workload(Record(self.record).iree_rows)))
        self.record["verdict"] = record_verdict(self.record)
        paths = []
        if self.path:
            paths.append(write_record(self.record, self.path))
        json_path = self.storage.json_path
        if json_path and Path(json_path) != self.path:
            paths.append(write_record(self.record, json_path))
        return paths

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        good = (STATUS_COMPILED,) if self.compile_only else (STATUS_OK,)
        return EXIT_OK if all(r.status in good for r in Record(self.record).rows) else EXIT_FAILED


def load_resumable(spec: str, storage: Storage) -> tuple[RunPlan, dict, Path]:
    """An incomplete stored run: its plan, record and path (a run that cannot be resumed: one line)."""
    from suite.record import load_record
    path = find_run(spec, storage.results_dir)
    record = load_record(path)
    if record.get("complete"):
        raise UserError(f"{path} is complete; nothing to resume")
    plan = record["settings"].get("plan")
    if not plan:
        raise UserError(f"{path} was written by a suite that cannot resume it")
    return RunPlan.from_json(plan), record, path


def profile_summary(p) -> dict:
    return {"name": p.name, "description": p.description, "source": p.source, "peak_flops": p.peak_flops,
            "bandwidth": p.bandwidth, "flops_per_mac": p.flops_per_mac, "estimate": p.estimate,
            "measured_here": p.measured_here, "call_s": p.call_s, "dispatch_s": p.dispatch_s,
            "vector_lanes": p.vector_lanes, "gather_flops": p.gather_flops, "tap_flops": p.tap_flops,
            "fault_s_per_byte": p.fault_s_per_byte, "latency_lanes": p.latency_lanes,
            "cache_bandwidth": p.cache_bandwidth, "cache_bytes": p.cache_bytes,
            **{k: v for k, v in (p.extra or {}).items() if k.startswith("bandwidth_")}}
