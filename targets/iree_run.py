"""Run compiled modules through IREE's own tools, in child processes (a crash or hang in one
workload cannot take the suite down), and parse their JSON rather than console text."""
from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from targets.iree_tools import compiler_tool, runtime_tool


class StageError(Exception):
    """One stage of one workload failed; ``stage`` says which, the message says why."""

    def __init__(self, stage: str, message: str, command: str | None = None):
        super().__init__(message)
        self.stage, self.command = stage, command


def command_line(cmd: list[str], env: dict[str, str] | None = None) -> str:
    """The command as a shell line to paste, with the environment it ran under."""
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items()), shlex.join(cmd)])


def child_environ(env: dict[str, str] | None) -> dict[str, str] | None:
    """This process's environment plus ``env``, for subprocess.run (None: inherit it unchanged)."""
    return {**os.environ, **env} if env else None


def module_command(tool: str, vmfb: Path, runtime_flags: list[str], inputs: list[Path],
                   extra: list[str] = (), launcher=None) -> list[str]:
    """The one place an IREE runtime command line is built: ``tool`` calling main(*inputs), on this
    host or through a launcher (targets.edge: qemu-user with another architecture's runtime)."""
    prefix, path = (launcher.prefix, launcher.tool(tool)) if launcher is not None else ((), runtime_tool(tool))
    return [*prefix, path, f"--module={vmfb}", *runtime_flags, "--function=main",
            *(f"--input=@{p}" for p in inputs), *extra]


def _run(stage: str, cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_environ(env))
    except subprocess.TimeoutExpired:
        raise StageError(stage, f"timed out after {timeout:g} s", command_line(cmd, env)) from None
    if proc.returncode != 0:
        raise StageError(stage, _first_error(proc.stderr or proc.stdout, proc.returncode), command_line(cmd, env))
    return proc


def _first_error(text: str, code: int) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln[:400]
    return (lines[-1][:400] if lines else f"exit code {code}")


def compile_module(mlir_path: Path, out_path: Path, input_type: str, flags: list[str],
                   timeout: float, side_flags: list[str] = ()) -> tuple[bytes, str]:
    """Compile with the iree-compile binary; returns (vmfb bytes, the command).

    ``side_flags`` only write side outputs (dumps, statistics): they do not change the module.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp_out = Path(tmp) / "module.vmfb"
        cmd = [compiler_tool(), str(mlir_path), f"--iree-input-type={input_type}", *flags, *side_flags,
               "-o", str(tmp_out)]
        _run("compile", cmd, timeout)
        data = tmp_out.read_bytes()
    shown = [compiler_tool(), str(mlir_path), f"--iree-input-type={input_type}", *flags, "-o", str(out_path)]
    return data, shlex.join(shown)


def run_module(vmfb: Path, input_npy: Path, runtime_flags: list[str], timeout: float,
               env: dict[str, str] | None = None, launcher=None) -> tuple[np.ndarray, str]:
    """One invocation of main(x); returns (output, the command). ``env``: extra environment (suite.malloc)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "y.npy"
        cmd = module_command("iree-run-module", vmfb, runtime_flags, [input_npy], [f"--output=@{out}"], launcher)
        _run("run", cmd, timeout, env)
        try:
            y = np.load(out)
        except (OSError, ValueError) as e:
            raise StageError("run", f"no readable output: {e}", command_line(cmd, env)) from None
    cmd[-1] = "--output=@y.npy"
    return y, command_line(cmd, env)


@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]            # one per repetition: mean time of one call within it
    iterations: list[int]              # calls per repetition
    command: str
    context: dict                      # Google Benchmark's context block (CPU, caches, load)


def warmup_time(warmup_s: float, min_time_s: float, iterations: int | None, parts: int = 1) -> float:
    """The warm-up to ask Google Benchmark for: ``warmup_s``, but with a call count per sample that
    fills ``min_time_s`` (``iterations``), timed in ``parts`` repetitions (sample_parts), at most half
    a part, so that its first warm-up run (one part's calls) always suffices (benchmark_module). A
    warm-up longer than a sample is kept."""
    if iterations and 0 < warmup_s <= min_time_s:
        return min(warmup_s, min_time_s / parts / 2)
    return warmup_s


SAMPLE_PARTS = 5        # a sample of a known call count is timed as up to this many consecutive parts


def sample_parts(iterations: int | None, most: int = SAMPLE_PARTS) -> int:
    """In how many consecutive parts of equal call counts a sample of ``iterations`` calls is timed:
    the most, up to ``most``, whose calls add up to at most 10% more than ``iterations`` (303 -> 5
    parts of 61; 3 -> 3 of 1; 7 -> 1). Google Benchmark, told a call count, warms up with one
    repetition's calls: in parts, a process warms up with one part rather than one whole sample."""
    n = iterations or 1
    return next((p for p in range(min(most, n), 1, -1) if p * math.ceil(n / p) - n <= n / 10), 1)


def timed_parts(iterations: int | None, warmup_s: float, min_time_s: float, most: int = SAMPLE_PARTS) -> int:
    """The parts benchmark_module times each sample in: ``sample_parts`` where that shortens the
    warm-up (a call count known, a warm-up asked of at most a sample), else 1 -- none asked needs no
    shortening, and one longer than a sample is kept whole (warmup_time)."""
    return sample_parts(iterations, most) if iterations and 0 < warmup_s <= min_time_s else 1


def joined(timing: "Timing", parts: int) -> "Timing":
    """``timing``'s repetitions joined ``parts`` at a time, in order, into samples: each the mean
    time of a call over its parts' calls, as one repetition of all of them would have measured."""
    if parts <= 1:
        return timing
    ms, calls = [], []
    for i in range(0, len(timing.samples_ms) - parts + 1, parts):
        s, n = timing.samples_ms[i:i + parts], timing.iterations[i:i + parts]
        ms.append(sum(a * b for a, b in zip(s, n)) / sum(n))
        calls.append(sum(n))
    return Timing(ms, calls, timing.command, timing.context)


def benchmark_module(vmfb: Path, inputs: Path | list[Path], runtime_flags: list[str], repetitions: int,
                     min_time_s: float, warmup_s: float, timeout: float, env: dict[str, str] | None = None,
                     launcher=None, iterations: int | None = None) -> Timing:
    """Time main(*inputs) with iree-benchmark-module: warm-up, then ``repetitions`` samples.
    ``env``: extra environment for the timed process (suite.malloc). ``iterations``: calls per sample
    when the caller knows how many fill ``min_time_s`` (Google Benchmark's ``--benchmark_min_time=Nx``);
    otherwise Google Benchmark finds out, which costs a few growing trial runs and overshoots the
    minimum time by up to 1.4x (`PredictNumItersNeeded`).

    With ``iterations``, a warm-up of any length runs at least one repetition's calls: 3 samples of
    303 calls (50 ms each) took 158 ms with no warm-up and 210-218 ms with 0.001-0.05 s of it
    (sweep-r2's C-SP, 2026-12-05); without one, a process's first sample is slower (over 114 rows,
    by 6% at the median and 30% at p90; bench/protocol.py --bias). And where that repetition falls
    just short of the warm-up time, Google Benchmark grows it and warms up again (`RunWarmUp`). So
    each sample is timed as ``sample_parts`` consecutive repetitions of a part of its calls, joined
    again (``joined``), and the warm-up asked for is at most half a part (``warmup_time``): one
    part's calls, never two. Over 214 processes of a warm default run's rows, a warm-up of one fifth
    of a sample left the first sample over the rest at 1.001 at the median (p90 1.26), one whole
    sample at 0.998 (p90 1.19) and none at 1.041 (p90 1.27) (2026-12-05, the parts of one process
    each time)."""
    inputs = [inputs] if isinstance(inputs, Path) else list(inputs)
    parts = timed_parts(iterations, warmup_s, min_time_s)
    per_part = math.ceil(iterations / parts) if iterations else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = module_command("iree-benchmark-module", vmfb, runtime_flags, inputs, [
            f"--benchmark_repetitions={repetitions * parts}",
            f"--benchmark_min_time={per_part}x" if iterations else f"--benchmark_min_time={min_time_s:g}s",
            f"--benchmark_min_warmup_time={warmup_time(warmup_s, min_time_s, iterations, parts):g}",
            "--benchmark_enable_random_interleaving=false",
            "--benchmark_out_format=json", f"--benchmark_out={out}"], launcher)
        _run("time", cmd, timeout, env)
        try:
            doc = json.loads(out.read_text())
        except (OSError, ValueError) as e:
            raise StageError("time", f"unreadable benchmark JSON: {e}", command_line(cmd, env)) from None
    cmd[-1] = "--benchmark_out=bench.json"
    return joined(parse_benchmark_json(doc, command_line(cmd, env)), parts)


def _minor_faults(cmd: list[str], timeout: float, env: dict[str, str] | None) -> int:
    """The minor page faults the kernel counted for one run of ``cmd`` (its getrusage, read as it is
    reaped: RUSAGE_CHILDREN would mix in the compiles other threads run meanwhile)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=child_environ(env))
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:                       # Ctrl-C (or SIGTERM) meanwhile: no child left behind
            p.kill()
            p.wait()
            raise
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)          # reaped here: Popen must not wait again
        if p.returncode != 0:
            err.seek(0)
            text = err.read().decode(errors="replace")
            why = f"killed after {timeout:g} s" if p.returncode == -9 else _first_error(text, p.returncode)
            raise StageError("count", why, command_line(cmd, env))
    return usage.ru_minflt


FAULT_CALLS = (1, 3)                   # calls of the two runs whose difference is counted


def faults_per_call(vmfb: Path, inputs: Path | list[Path], runtime_flags: list[str], timeout: float,
                    env: dict[str, str] | None = None) -> tuple[float, str]:
    """(minor page faults a call of main(*inputs) takes, the command): the difference between runs
    of FAULT_CALLS calls, so loading the module and the input cancels out. Each fault is a page the
    call touched fresh: under the system allocator, buffers glibc mmaps for the call and unmaps after
    (suite.malloc). On this host only: under an emulator the count would be the emulator's."""
    inputs = [inputs] if isinstance(inputs, Path) else list(inputs)
    counts = []
    for n in FAULT_CALLS:
        cmd = module_command("iree-benchmark-module", vmfb, runtime_flags, inputs, [
            "--benchmark_repetitions=1", f"--benchmark_min_time={n}x", "--benchmark_min_warmup_time=0"])
        counts.append(_minor_faults(cmd, timeout, env))
    per_call = (counts[1] - counts[0]) / (FAULT_CALLS[1] - FAULT_CALLS[0])
    return max(0.0, per_call), command_line(cmd, env)


_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def iteration_runs(doc: dict, command: str) -> list[dict]:
    """The per-repetition rows of Google Benchmark JSON, or a StageError saying what is wrong with it."""
    runs = [b for b in doc.get("benchmarks", []) if b.get("run_type") == "iteration"]
    errors = [b.get("error_message", "error") for b in runs if b.get("error_occurred")]
    if errors:
        raise StageError("time", f"benchmark reported: {errors[0]}", command)
    if not runs:
        raise StageError("time", "benchmark JSON holds no iteration runs", command)
    return runs


def samples_ms(runs: list[dict], field: str = "real_time") -> list[float]:
    """One value per repetition in ms: real_time (wall) or cpu_time (the process, all threads)."""
    return [b[field] * _UNIT_MS[b.get("time_unit", "ns")] for b in runs]


def parse_benchmark_json(doc: dict, command: str) -> Timing:
    runs = iteration_runs(doc, command)
    return Timing(samples_ms(runs), [int(b["iterations"]) for b in runs], command, doc.get("context", {}))
