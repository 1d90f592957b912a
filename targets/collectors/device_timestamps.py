"""device-timestamps: per-dispatch device time from IREE's HAL device profiling
(--device_profiling_mode=dispatch-events, read back with `iree-profile dispatch --format=jsonl`),
over a fixed number of calls. Supported by GPU HAL drivers (Vulkan); local-task has no dispatch
events. On lavapipe the 'device' is a CPU emulation, and the values say so."""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, Column, CounterValue, register

CALLS = 20


def _probe() -> Availability:
    return Availability(True, "IREE HAL device profiling (dispatch-events): Vulkan and other GPU drivers")


def parse_dispatch_jsonl(text: str) -> list[dict]:
    return [row for row in map(json.loads, filter(None, text.splitlines())) if row.get("type") == "dispatch_group"]


def _collect(ctx) -> list[CounterValue]:
    from targets.iree_tools import runtime_tool
    with tempfile.TemporaryDirectory() as tmp:
        prof = Path(tmp) / "p.ireeprof"
        cmd = ctx.command("iree-benchmark-module") + [
            f"--benchmark_min_time={CALLS}x", "--device_profiling_mode=dispatch-events",
            f"--device_profiling_output={prof}"]
        subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout * 5, check=True)
        text = subprocess.run([runtime_tool("iree-profile"), "dispatch", "--format=jsonl", str(prof)],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    note = "device timestamps" + (" of a CPU emulation (lavapipe)" if ctx.emulated else "")
    out = []
    for g in parse_dispatch_jsonl(text):
        if not g.get("time_ns_available"):
            continue
        out.append(CounterValue("dispatch_device_ms", g["avg_ns"] / 1e6, "ms", "hardware", False,
                                "device-timestamps", g["key"], f"{note}; mean of {g['count']} calls"))
    if out:
        out.append(CounterValue("device_ms", sum(v.value for v in out), "ms", "hardware", False, "device-timestamps",
                                None, f"{note}; sum of the dispatches' mean device times"))
    return out


DEVICE_TIMESTAMPS = register(Collector("device-timestamps", "hardware", "per-dispatch device time (HAL profiling)",
                                       _probe, _collect, cost="cheap",
                                       columns=(Column("device ms", ("device_ms",), unit="ms"),)))
