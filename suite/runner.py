"""Run workloads end to end: export -> compile (cached) -> verify against PyTorch -> time.

Each stage of each workload is isolated: a failure is recorded with its stage and reason and
the run goes on. Only a workload whose output matched its trained layer is timed.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from suite.cache import CompileCache
from suite.export import to_mlir
from suite.build import Built, build_module, compile_flags, static_summary
from targets.iree_run import StageError, benchmark_module, run_module
from suite.malloc import malloc_env
from suite.rows import STATUS_COMPILED, STATUS_OK, STATUS_WRONG
from suite.stats import settle, summarize
from suite.verify import verify
from targets.iree_tools import versions
from targets import Target
from targets.collectors import CollectContext, get_collector
from workloads.workload import Workload



@dataclass(frozen=True)
class RunOptions:
    target: Target
    device: str
    threads: int | None = None
    seed: int = 0
    repetitions: int = 10
    min_time_s: float = 0.05
    max_time_s: float | None = None              # suite.rounds.allowance: a slow row stops at 5 samples
    warmup_s: float = 0.05
    compile_timeout_s: float = 600.0
    run_timeout_s: float = 600.0
    verify_only: bool = False
    presets: tuple[str, ...] = ("default",)      # compilation strategies; each workload runs with each
    collectors: tuple[str, ...] = ()             # counter collectors, run after timing, in their own pass
    compile_only: str = ""                       # non-empty: why modules cannot run here; compile and count only
    malloc: str = "system"                       # suite.malloc policy of the processes that run modules
    sched: str = "normal"                        # suite.sched policy of the timed processes (IREE's via launcher)
    launcher: object = None                      # targets.edge.Launcher: None runs on this host

    def runtime_flags(self) -> list[str]:
        return self.target.runtime_flags(self.device, self.threads)

    def runtime_env(self) -> dict[str, str]:
        return malloc_env(self.malloc)


@dataclass
class WorkloadResult:
    id: str
    layer: str
    layer_name: str | None
    method: str
    algorithm: str | None
    reference: str
    preset: str = "default"
    layout: str | None = None          # set by the tuner: the layout it ran in (else the layer's own)
    form: str | None = None            # set by the tuner: the algorithm's form it ran in (Algorithm.forms), if not its plain one
    tuning: dict | None = None         # set by the tuner: where the choice came from, every candidate's median
    runtime: str | None = None         # a peer runtime's row (suite/peers.py); None: IREE
    runtime_version: str | None = None
    runtime_settings: str | None = None
    runtime_note: str | None = None    # e.g. what XNNPACK left on portable kernels
    status: str = "pending"            # ok | wrong | export-failed | compile-failed | run-failed | time-failed
    reason: str = ""
    max_abs_err: float | None = None
    tolerance: float | None = None
    psnr_db: float | None = None       # of the output against the reference (None: identical)
    output_shape: list[int] | None = None
    compile_s: float | None = None
    compile_cached: bool | None = None
    module_key: str | None = None
    commands: dict[str, str] = field(default_factory=dict)
    # the text behind --iree-codegen-tuning-spec-path (the compile command names a cache file that
    # another machine lacks), so a record alone rebuilds the module
    tuning_spec: str | None = None
    samples_ms: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    rounds: list[int] | None = None    # samples taken in each round, in order (suite.rounds), where timed in rounds
    rounds_left_out: list[int] | None = None   # rounds a slow phase reached, not in stats_ms (suite.stats.settle)
    stats_ms: dict[str, float] | None = None
    counters: list[dict] = field(default_factory=list)
    counter_errors: dict[str, str] = field(default_factory=dict)

    @property
    def median_ms(self) -> float | None:
        return self.stats_ms["median"] if self.stats_ms else None

    def take_samples(self, samples_ms: list[float], iterations: list[int], rounds: list[int] | None = None) -> None:
        """Its samples, and its statistics from those of the rounds no slow phase reached (every
        round's samples stay in the record)."""
        from suite.rounds import SPLIT_RATIO
        self.samples_ms, self.iterations, self.rounds = samples_ms, iterations, rounds
        kept, out = settle(samples_ms, rounds or [], SPLIT_RATIO)
        self.rounds_left_out = out if rounds else None
        self.stats_ms = summarize(kept) if kept else None

    def to_json(self) -> dict:
        return asdict(self)


class _LayerData:
    """Input and reference outputs of one layer, computed once and shared by its workloads."""

    def __init__(self, cache: CompileCache, seed: int):
        self.cache, self.seed = cache, seed
        self._x: dict[str, tuple[torch.Tensor, Path]] = {}
        self._ref: dict[tuple[str, str], np.ndarray] = {}

    def input(self, w: Workload) -> tuple[torch.Tensor, Path]:
        if w.layer.id not in self._x:
            x = w.input(self.seed)
            self._x[w.layer.id] = (x, self.cache.input_file(x.numpy()))
        return self._x[w.layer.id]

    def reference(self, w: Workload) -> np.ndarray:
        key = (w.layer.id, w.reference_method)
        if key not in self._ref:
            self._ref[key] = w.reference(self.input(w)[0], self.seed).numpy()
        return self._ref[key]


@functools.cache
def workloads_digest() -> str:
    """A digest of the code that turns a workload into MLIR (the workloads package with its hand-written
    kernels, the exporter)."""
    import workloads
    h = hashlib.sha256()
    root = Path(workloads.__file__).parent
    files = sorted([*root.rglob("*.py"), *root.rglob("*.c")]) + [Path(__file__).parent / "export.py"]
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()


def export_key(w, seed: int) -> str | None:
    """Everything a layer workload's MLIR depends on: its id (layer, layout, method, algorithm), the
    seed, the code and the exporting libraries' versions. None for models read from files."""
    if not isinstance(w, Workload):
        return None
    v = versions()
    parts = (w.id, str(seed), workloads_digest(), v.get("torch", ""), v.get("iree-turbine", ""))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class Runner:
    def __init__(self, options: RunOptions, cache: CompileCache):
        self.options, self.cache = options, cache
        self.data = _LayerData(cache, options.seed)

    def run(self, workloads: list[Workload],
            on_progress: Callable[[Workload, str], None] | None = None,
            on_result: Callable[[WorkloadResult], None] | None = None,
            skip: set[tuple[str, str]] = frozenset()) -> list[WorkloadResult]:
        """Run every workload with every preset, except the (workload id, preset) pairs in ``skip``."""
        results = []
        for w in workloads:
            presets = [p for p in self.options.presets if (w.id, p) not in skip]
            if not presets:
                continue
            if on_progress:
                on_progress(w, "export")
            try:
                exported: tuple[str, str] | StageError = self.export(w)
            except StageError as e:
                exported = e
            for preset in presets:
                r = self.run_one(w, preset, exported, on_progress)
                results.append(r)
                if on_result:
                    on_result(r)
        return results

    def export(self, w: Workload) -> tuple[str, str, str | None]:
        """(MLIR, input type, tuning spec) of a workload; shared by every preset it is compiled with.
        Kept in the cache under a key of everything that defines it (see export_key): torch's export
        takes most of a warm run's time otherwise."""
        key = export_key(w, self.options.seed)
        if key and self.cache.enabled:
            cached = self.cache.load_export(key)
            if cached is not None:
                return cached
        try:
            low = w.lowering(self.options.seed)
            out = (*to_mlir(low, self.data.input(w)[0]), low.tuning_spec)
        except Exception as e:                                # noqa: BLE001 - any export failure is this workload's
            raise StageError("export", f"{type(e).__name__}: {e}") from None
        if key and self.cache.enabled:
            self.cache.store_export(key, *out)
        return out

    def run_one(self, w: Workload, preset: str = "default", exported: tuple[str, str] | StageError | None = None,
                on_progress: Callable[[Workload, str], None] | None = None) -> WorkloadResult:
        res, built, x_path = self.prepare(w, preset, exported, on_progress)
        if built is not None:
            self.measure(w, built, x_path, res, on_progress)
        return res

    def _say(self, w: Workload, preset: str, on_progress):
        tag = f" [{preset}]" if len(self.options.presets) > 1 else ""
        return (lambda stage: on_progress(w, stage + tag)) if on_progress else (lambda stage: None)

    def prepare(self, w: Workload, preset: str = "default", exported: tuple[str, str] | StageError | None = None,
                on_progress: Callable[[Workload, str], None] | None = None
                ) -> tuple[WorkloadResult, Built | None, Path | None]:
        """Export, compile and verify. Returns the result so far, and the module and input when it is
        verified and still to be timed (None otherwise: failed, wrong, compile-only or verify-only,
        whose results are final)."""
        res = WorkloadResult(id=w.id, layer=w.layer.id, layer_name=w.layer.name, method=w.method,
                             algorithm=w.algorithm, reference=w.reference_method, preset=preset)
        say = self._say(w, preset, on_progress)
        try:
            if exported is None:
                exported = self.export(w)
            if isinstance(exported, StageError):
                raise exported
            mlir, input_type, spec = exported
            x_path = self.data.input(w)[1]
            say("compile")
            built = self._compile(mlir, input_type, res, preset, spec)
            if self.options.compile_only:
                res.status, res.reason = STATUS_COMPILED, self.options.compile_only
                self._count_all(built, x_path, res, say)
                return res, None, None
            say("verify")
            self._verify(built.vmfb, x_path, self.data.reference(w), res, getattr(w, "output_step", 0.0))
            if res.status == STATUS_WRONG:
                return res, None, None
            if self.options.verify_only:
                self._count_all(built, x_path, res, say)
                return res, None, None
            return res, built, x_path
        except StageError as e:
            res.status, res.reason = f"{e.stage}-failed", str(e)
            if e.command:
                res.commands.setdefault(e.stage, e.command)
        return res, None, None

    def measure(self, w: Workload, built: Built, x_path: Path, res: WorkloadResult,
                on_progress: Callable[[Workload, str], None] | None = None,
                expected_ms: float | None = None) -> WorkloadResult:
        """Time a verified module with the run's repetitions (fewer for a row whose call is known,
        ``expected_ms``, to be too slow for them within the run's max time), then count it."""
        from suite.rounds import allowance, calls_per_sample
        o = self.options
        reps = o.repetitions
        if expected_ms:                 # as if a first sample had been taken (one call, or min_time of calls)
            per = max(expected_ms / 1e3, o.min_time_s)
            reps = 1 + allowance(reps - 1, 1, per, o.max_time_s)
        self._say(w, res.preset, on_progress)("time")
        try:
            t = self.time(built, x_path, reps, calls_per_sample(expected_ms, o.min_time_s))
        except StageError as e:
            return self.failed(res, e)
        return self.record_timing(w, built, x_path, res, t.samples_ms, t.iterations, t.command, on_progress)

    def time(self, built: Built, x_path: Path, repetitions: int, iterations: int | None = None):
        """``repetitions`` samples of a verified module, with the run's warm-up and minimum time per
        sample (a Timing); StageError if it fails. ``iterations``: calls per sample, where the call
        time is known (suite.rounds.calls_per_sample). A run that alternates IREE with the peers
        calls this once per round (suite.rounds)."""
        o = self.options
        return benchmark_module(built.vmfb, x_path, o.runtime_flags(), repetitions, o.min_time_s, o.warmup_s,
                                o.run_timeout_s, o.runtime_env(), o.launcher, iterations)

    def record_timing(self, w: Workload, built: Built, x_path: Path, res: WorkloadResult, samples_ms: list[float],
                      iterations: list[int], command: str,
                      on_progress: Callable[[Workload, str], None] | None = None) -> WorkloadResult:
        """A verified module's samples into its row, then its counters (after timing: counting never
        disturbs the samples)."""
        res.take_samples(samples_ms, iterations, res.rounds)
        res.commands["time"] = command
        res.status = STATUS_OK
        self._count_all(built, x_path, res, self._say(w, res.preset, on_progress))
        return res

    @staticmethod
    def failed(res: WorkloadResult, e: StageError) -> WorkloadResult:
        res.status, res.reason = f"{e.stage}-failed", str(e)
        if e.command:
            res.commands.setdefault(e.stage, e.command)
        return res

    def sample(self, built: Built, x_path: Path, repetitions: int, min_time_s: float,
               iterations: int | None = None) -> list[float]:
        """A few quick samples of a verified module (the tuner's races); StageError if it fails.
        ``iterations``: calls per sample where the caller knows them (suite.rounds.calls_per_sample)."""
        o = self.options
        return benchmark_module(built.vmfb, x_path, o.runtime_flags(), repetitions, min_time_s, 0.0,
                                o.run_timeout_s, o.runtime_env(), o.launcher, iterations).samples_ms

    def _compile(self, mlir: str, input_type: str, res: WorkloadResult, preset: str,
                 spec: str | None = None) -> Built:
        flags = compile_flags(self.cache, self.options.target, preset, spec)
        b = build_module(self.cache, mlir, input_type, flags, self.options.compile_timeout_s)
        res.module_key, res.compile_cached, res.compile_s = b.key, b.cached, b.seconds
        res.commands["compile"] = b.command
        if any(f.startswith("--iree-codegen-tuning-spec-path=") for f in flags):
            res.tuning_spec = spec
        return b

    def _count_all(self, built: Built, x_path: Path, res: WorkloadResult, say) -> None:
        for name in self.options.collectors:
            say(f"count:{name}")
            self._count(name, built, x_path, res)

    def _count(self, name: str, built: Built, x_path: Path, res: WorkloadResult) -> None:
        o = self.options

        def rebuild(change_flags) -> Path:
            return build_module(self.cache, Path(built.mlir_path).read_text(), built.input_type,
                                change_flags(list(built.flags)), o.compile_timeout_s).vmfb

        ctx = CollectContext(vmfb=built.vmfb, x_path=x_path, device=o.device, timeout=o.run_timeout_s,
                             emulated=o.target.availability().emulated or bool(o.launcher and o.launcher.emulated),
                             launcher=o.launcher,
                             runtime_flags=lambda device: o.target.runtime_flags(device, o.threads),
                             static_summary=lambda: static_summary(self.cache, built, o.compile_timeout_s),
                             rebuild=rebuild, env=o.runtime_env())
        try:
            res.counters += [v.to_json() for v in get_collector(name).collect(ctx)]
        except Exception as e:                            # noqa: BLE001 - a collector failing costs only its values
            res.counter_errors[name] = f"{type(e).__name__}: {e}"


    def _verify(self, vmfb: Path, x_path: Path, ref: np.ndarray, res: WorkloadResult, step: float = 0.0) -> None:
        """``step``: one quantization step of a quantized model's output, which a different summation
        order may flip (workloads.onnx_models)."""
        o = self.options
        y, cmd = run_module(vmfb, x_path, o.runtime_flags(), o.run_timeout_s, o.runtime_env(), o.launcher)
        res.commands["verify"] = cmd
        res.output_shape = list(y.shape)
        v = verify(y, ref, step)
        res.max_abs_err, res.tolerance, res.psnr_db = v.max_abs_err, v.tolerance, v.psnr_db
        if not v.ok:
            res.status, res.reason = STATUS_WRONG, v.reason
        elif self.options.verify_only:
            res.status = STATUS_OK
