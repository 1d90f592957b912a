"""dispatch-times: each dispatch's wall time per call on a CPU, measured by IREE's runtime
(iree-benchmark-module --dispatch_statistics=true): the mean over the calls of one benchmark process.

Where cpu-samples splits a call's CPU time (all threads, sampled, from a rebuilt module), this reads
the wall time the call waits for each dispatch, from the very module timed, at no more cost than one
short benchmark. The runtime times each dispatch on its own, so dispatches the scheduler would run
side by side are timed one after the other here: the dispatches' sum can exceed the call, and the
call measured in the same process is reported beside them. HAL drivers other than the CPU's give no
statistics (Vulkan: none; its per-dispatch times are device-timestamps'). Not run unless asked
(``--counters dispatch-times``): a further second of benchmark per row would double a warm run."""
from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, CounterValue, register
from targets.collectors.cpu_samples import short_dispatch

MIN_TIME_S = 0.2
REPETITIONS = 3


def _probe() -> Availability:
    try:
        from targets.iree_tools import runtime_tool
        runtime_tool("iree-benchmark-module")
    except Exception as e:                                    # noqa: BLE001 - the reason is the point
        return Availability(False, str(e))
    return Availability(True, "iree-benchmark-module --dispatch_statistics (wall time per dispatch, CPU drivers)")


def parse(doc: dict) -> tuple[dict[str, float], float | None]:
    """Google Benchmark JSON of a --dispatch_statistics run -> ({dispatch: mean ms per call}, the call's
    median ms). A dispatch row's real_time is per call of the module, over every repetition's calls."""
    from targets.iree_run import samples_ms
    rows = [b for b in doc.get("benchmarks", []) if b.get("run_type") != "aggregate"]
    per: dict[str, list[float]] = {}
    for b in (b for b in rows if "dispatch" in b.get("name", "")):
        per.setdefault(b["name"].split("/", 1)[-1], []).extend(samples_ms([b]))
    calls = samples_ms([b for b in rows if b.get("run_type") == "iteration" and "dispatch" not in b.get("name", "")])
    return {d: statistics.mean(v) for d, v in per.items()}, statistics.median(calls) if calls else None


def _collect(ctx) -> list[CounterValue]:
    from targets.iree_run import child_environ
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = ctx.command("iree-benchmark-module") + [
            "--dispatch_statistics=true", f"--benchmark_min_time={MIN_TIME_S}s",
            f"--benchmark_repetitions={REPETITIONS}", "--benchmark_out_format=json", f"--benchmark_out={out}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout * 5 + 60,
                              env=child_environ(ctx.env))
        if proc.returncode != 0:
            raise RuntimeError(f"iree-benchmark-module failed (exit {proc.returncode}): "
                               f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        per, call = parse(json.loads(out.read_text()))
    if not per:
        raise RuntimeError("the runtime gave no dispatch statistics (only CPU drivers do; Vulkan: device-timestamps)")
    note = ("iree-benchmark-module --dispatch_statistics: mean wall time per call of each dispatch, timed one "
            "dispatch at a time" + (" under an emulator" if ctx.emulated else ""))
    out_values = [CounterValue("dispatch_ms", ms, "ms", "hardware", False, "dispatch-times", name, note)
                  for name, ms in sorted(per.items(), key=lambda kv: -kv[1])]
    out_values.append(CounterValue("dispatches_ms", sum(per.values()), "ms", "hardware", False, "dispatch-times",
                                   None, "sum of the dispatches' mean wall times"))
    if call is not None:
        out_values.append(CounterValue("call_ms", call, "ms", "hardware", False, "dispatch-times", None,
                                       "median call in the same process, dispatches timed one at a time"))
    return out_values


def split(counters: list[dict], top: int = 4) -> str:
    """'d4 matmul_like_... 0.102 ms (40%), ...' from one workload's dispatch-times, largest first."""
    ms = {c["dispatch"]: c["value"] for c in counters if c["collector"] == "dispatch-times"
          and c["name"] == "dispatch_ms" and c.get("dispatch")}
    total = sum(ms.values())
    return ", ".join(f"{short_dispatch(d)} {v:.3g} ms ({v / total:.0%})"
                     for d, v in sorted(ms.items(), key=lambda kv: -kv[1])[:top]) if total else ""


DISPATCH_TIMES = register(Collector("dispatch-times", "hardware", "per-dispatch wall time (IREE's dispatch statistics)",
                                    _probe, _collect, cost="expensive", row_note=split,
                                    row_note_label="wall time per dispatch"))
