"""perf: hardware events through Linux perf -- last-level cache misses x line size (an estimate of
DRAM traffic, scaled when the kernel multiplexed counters), per whole call, and, where the machine
has Intel uncore memory-controller PMUs (uncore_imc/cas_count_*), CAS commands x 64 bytes counted
system-wide. Needs a PMU: in VMs without one every hardware event is '<not supported>', and this
collector says so. (The uncore path could not be exercised on the machines this was built on.)"""
from __future__ import annotations

import functools
import shutil
import subprocess

from targets import Availability
from targets.collectors import Collector, CounterValue, register

EVENTS = ("LLC-load-misses", "LLC-store-misses")
LINE_BYTES = 64


@functools.cache
def _probe() -> Availability:
    perf = shutil.which("perf")
    if not perf:
        return Availability(False, "the perf tool is not installed (Debian: linux-perf)")
    try:
        proc = subprocess.run([perf, "stat", "-x,", "-e", ",".join(EVENTS), "true"], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return Availability(False, f"perf did not run: {e}")
    text = proc.stderr + proc.stdout
    if proc.returncode != 0 and "not supported" not in text.lower():
        return Availability(False, f"perf stat failed: {text.strip().splitlines()[-1] if text.strip() else proc.returncode}")
    unsupported = [e for e in EVENTS if f"<not supported>,,{e}" in text or f"<not supported>,{e}" in text]
    if unsupported or "<not supported>" in text:
        return Availability(False, "no hardware PMU here: perf reports "
                                   f"{', '.join(unsupported or EVENTS)} as <not supported> (a VM without a vPMU?)")
    return Availability(True, f"hardware events {', '.join(EVENTS)}")


def parse_perf_csv(text: str) -> dict[str, tuple[float, float]]:
    """perf stat -x, output -> {event: (value scaled for multiplexing, fraction of time counted)}."""
    out = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) < 5 or not parts[0].replace(".", "", 1).isdigit():
            continue
        value, event, pct = float(parts[0]), parts[2], parts[4]
        running = float(pct) / 100 if pct and pct.replace(".", "", 1).isdigit() else 1.0
        out[event] = (value, running)
    return out


@functools.cache
def uncore_events() -> tuple[str, ...]:
    """Memory-controller CAS events this machine exposes, e.g. uncore_imc/cas_count_read/."""
    from targets.probe import tool_output
    text = tool_output("perf", "list", "--no-desc")
    return tuple(sorted({f"uncore_imc/{e}/" for e in ("cas_count_read", "cas_count_write") if e in text}))


def _collect(ctx) -> list[CounterValue]:
    perf = shutil.which("perf")
    out = _llc(perf, ctx)
    if uncore_events():
        cmd = [perf, "stat", "-a", "-x,", "-e", ",".join(uncore_events()), "--", *ctx.command()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout)
        cas = parse_perf_csv(proc.stderr)
        if cas:
            out.append(CounterValue("dram_bytes_cas", sum(v for v, _ in cas.values()) * 64, "B", "hardware",
                                    any(r < 1.0 for _, r in cas.values()), "perf",
                                    note="memory-controller CAS x 64 B, system-wide while the process ran"))
    return out


def _llc(perf: str, ctx) -> list[CounterValue]:
    cmd = [perf, "stat", "-x,", "-e", ",".join(EVENTS), "--", *ctx.command()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout)
    counts = parse_perf_csv(proc.stderr)
    out = []
    for event, (value, running) in counts.items():
        # perf already scales multiplexed counts by time_enabled / time_running: an estimate then
        out.append(CounterValue(event, value, "count", "hardware", running < 1.0, "perf",
                                note="whole process: load + one call"))
    if counts:
        misses = sum(v for v, _ in counts.values())
        out.append(CounterValue("dram_bytes_estimate", misses * LINE_BYTES, "B", "hardware", True, "perf",
                                note="LLC misses x 64-byte lines, whole process"))
    return out


PERF = register(Collector("perf", "hardware", "LLC misses x line size through Linux perf", _probe, _collect,
                          cost="cheap"))
