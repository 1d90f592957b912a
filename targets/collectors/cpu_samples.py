"""cpu-samples: where a call's CPU time goes, dispatch by dispatch, on llvm-cpu -- measured by sampling.

perf samples the process on the cpu-clock event (a kernel timer, so no PMU is needed and it works in
VMs) while iree-benchmark-module runs the module rebuilt with its dispatches as a system library. Each
sample's address is mapped to the dispatch function that holds it, through the symbol table of the
library inside the vmfb (read with nm). Reported per dispatch: its share of the process's CPU samples,
and that share of the CPU time per call the benchmark measured (an estimate: a sampled share of a
median). Work the runtime does outside dispatches is reported under its own names: copies and fills
it runs with memcpy/memset (stream copies, pad fills), and waiting and scheduling."""
from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import statistics
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, CounterValue, register

FREQUENCY_HZ = 4999          # odd, so the sampling does not beat with periodic work
# perf record first lists the kernel's BPF programs (1.1 s here, for `true`); IREE's samples never land in
# one, and without it the probe takes 0.13 s
RECORD = ("record", "-q", "--no-bpf-event", "-e", "cpu-clock")
RUNTIME_COPIES = "(runtime: memcpy/memset)"
RUNTIME_OTHER = "(runtime: waits, scheduling)"
KERNEL = "(kernel)"


@functools.cache
def _probe() -> Availability:
    perf, nm = shutil.which("perf"), shutil.which("nm")
    if not perf:
        return Availability(False, "the perf tool is not installed (Debian: linux-perf)")
    if not nm:
        return Availability(False, "nm is not installed (Debian: binutils)")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            proc = subprocess.run([perf, *RECORD, "-o", f"{tmp}/p.data", "--", "true"],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as e:
            return Availability(False, f"perf did not run: {e}")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [str(proc.returncode)])[-1]
        return Availability(False, f"perf record -e cpu-clock failed: {last} (see /proc/sys/kernel/perf_event_paranoid)")
    return Availability(True, f"perf cpu-clock sampling at {FREQUENCY_HZ} Hz (a timer: no PMU needed)")


def library_symbols(vmfb: Path) -> list[tuple[int, int, str]]:
    """(start, size, name) of the functions of the system library(ies) embedded in a vmfb."""
    data = vmfb.read_bytes()
    starts = [m.start() for m in re.finditer(rb"\x7fELF", data)]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(starts):
            lib = Path(tmp) / f"{i}.so"
            lib.write_bytes(data[s:starts[i + 1] if i + 1 < len(starts) else len(data)])
            text = subprocess.run(["nm", "-S", "--defined-only", str(lib)], capture_output=True, text=True).stdout
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[2].lower() == "t":
                    out.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    return out


_ROW = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.+?)\s*$")


def attribute(report: str, symbols: list[tuple[int, int, str]]) -> Counter:
    """`perf report --sort dso,sym` text -> {dispatch or runtime bucket: percent of samples}.
    Samples in the dispatch library come unresolved (it is loaded from memory) as offsets into it."""
    shares: Counter = Counter()
    for line in report.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        if kind == "k":
            shares[KERNEL] += pct
        elif dso.startswith("iree_dylib") and sym.startswith("0x"):
            addr = int(sym, 16)
            shares[next((n for s, z, n in symbols if s <= addr < s + z), f"(library: {sym})")] += pct
        elif re.search(r"mem(cpy|move|set)", sym):
            shares[RUNTIME_COPIES] += pct
        else:
            shares[RUNTIME_OTHER] += pct
    return shares


def _collect(ctx) -> list[CounterValue]:
    from targets.iree_run import child_environ, iteration_runs, samples_ms
    from targets.collectors.cachegrind import system_library_flags
    vmfb = ctx.rebuild(system_library_flags)
    with tempfile.TemporaryDirectory() as tmp:
        data, bench = Path(tmp) / "perf.data", Path(tmp) / "bench.json"
        run = ctx.command("iree-benchmark-module", vmfb=vmfb)
        cmd = ["perf", *RECORD, "-F", str(FREQUENCY_HZ), "-o", str(data), "--", *run,
               "--benchmark_min_time=0.5s", "--benchmark_repetitions=3", "--benchmark_out_format=json",
               f"--benchmark_out={bench}"]
        # sampled under the same malloc policy as the workload was timed
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout * 5 + 60,
                              env=child_environ(ctx.env))
        if proc.returncode != 0:
            raise RuntimeError(f"perf record failed (exit {proc.returncode}): "
                               f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
        report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", "dso,sym"],
                                capture_output=True, text=True, timeout=300).stdout
        cpu_ms = statistics.median(samples_ms(iteration_runs(json.loads(bench.read_text()), shlex.join(cmd)),
                                              "cpu_time"))
    shares = attribute(report, library_symbols(vmfb))
    if not shares:
        raise RuntimeError("perf recorded no samples")
    total = sum(shares.values())
    note = (f"perf cpu-clock samples at {FREQUENCY_HZ} Hz, all threads, of iree-benchmark-module on the module "
            "rebuilt as a system library; ms = share x median CPU time per call")
    out = []
    for name, pct in shares.most_common():
        share = pct / total
        out += [CounterValue("cpu_share", share, "fraction", "hardware", True, "cpu-samples", name, note),
                CounterValue("cpu_ms", share * cpu_ms, "ms", "hardware", True, "cpu-samples", name, note)]
    out.append(CounterValue("cpu_ms", cpu_ms, "ms", "hardware", False, "cpu-samples", None,
                            "median CPU time per call, all threads (iree-benchmark-module cpu_time)"))
    return out


def short_dispatch(name: str) -> str:
    """main$async_dispatch_1_conv_2x161x488x16x3x3x32_f32 -> d1 conv_2x161x488x16x3x3x32_f32"""
    m = re.match(r".*?dispatch_(\d+)_?(.*)", name)
    return f"d{m.group(1)} {m.group(2) or '(unnamed)'}".strip() if m else name


def cpu_split(counters: list[dict], top: int = 5) -> str:
    """'d1 conv_... 62% 17.9 ms, ...' from the cpu-samples counters of one workload, largest first."""
    ms = {c["dispatch"]: c["value"] for c in counters if c["collector"] == "cpu-samples"
          and c["name"] == "cpu_ms" and c.get("dispatch")}
    share = {c["dispatch"]: c["value"] for c in counters if c["collector"] == "cpu-samples"
             and c["name"] == "cpu_share" and c.get("dispatch")}
    parts = [f"{short_dispatch(d)} {share[d]:.0%} ({ms[d]:.3g} ms)" for d in sorted(share, key=share.get, reverse=True)
             if d in ms][:top]
    return ", ".join(parts)


def page_fault_hint(rows: list[list[dict]], malloc: str, threshold: float = 0.25) -> str | None:
    """A line for workloads whose sampled CPU time is mostly the OS kernel's under the system allocator:
    on big layers that is page faults of each call's fresh buffers, which --malloc retain removes."""
    if malloc != "system":
        return None
    heavy = [r for r in rows for c in r if c["collector"] == "cpu-samples"
             and c["name"] == "cpu_share" and c.get("dispatch") == KERNEL and c["value"] >= threshold]
    if not heavy:
        return None
    return (f"{len(heavy)} workload(s) spent over {threshold:.0%} of their CPU time in the OS kernel: with the "
            "allocator as it comes that is usually page faults of each call's fresh buffers; "
            "--malloc retain times the steady state (see suite/malloc.py)")


CPU_SAMPLES = register(Collector("cpu-samples", "hardware", "per-dispatch CPU time by perf cpu-clock sampling",
                                 _probe, _collect, cost="expensive",
                                 row_note=cpu_split, row_note_label="CPU time (sampled)",
                                 layer_note=lambda rows, settings: page_fault_hint(rows, settings.get("malloc", "system"))))
