"""cachegrind: simulated caches under valgrind (callgrind with --cache-sim), deterministic. The
DRAM-traffic estimate per dispatch is last-level misses x line size, counted only while dispatches
execute (--toggle-collect), with dispatches named (system-library executables). The cache geometry is
a named device profile, not the VM's. Two traps of IREE 3.13 under valgrind 3.19 are handled:
- io_uring: valgrind hangs on it, so the child runs under a seccomp filter that makes
  io_uring_setup fail with ENOSYS (IREE then falls back silently);
- AVX-512: valgrind cannot decode it, so the module is built for x86-64-v3 (AVX2) for counting.
Write-allocate, no write-back modelling, no prefetcher: an estimate, labelled as one.
"""
from __future__ import annotations

import ctypes
import functools
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, Column, CounterValue, register

# name -> valgrind cache specs (size,associativity,line): I1, D1, LL
CACHE_PROFILES = {
    "cortex-a72": {"I1": "49152,3,64", "D1": "32768,2,64", "LL": "1048576,16,64",
                   "source": "Cortex-A72 TRM: 48 KiB 3-way L1I, 32 KiB 2-way L1D, 1 MiB 16-way L2 (RPi 4), 64 B lines"},
    "desktop": {"I1": "32768,8,64", "D1": "32768,8,64", "LL": "8388608,16,64",
                "source": "a generic desktop x86: 32 KiB 8-way L1s, 8 MiB 16-way LLC, 64 B lines"},
}
DEFAULT_PROFILE = "cortex-a72"
IO_URING_SETUP = 425                      # the same number on x86_64 and aarch64


def _no_io_uring() -> None:
    """preexec_fn: a seccomp filter that answers io_uring_setup with ENOSYS, everything else allowed."""
    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    prog = (SockFilter * 4)(
        SockFilter(0x20, 0, 0, 0),                        # ld  [0]            (syscall number)
        SockFilter(0x15, 0, 1, IO_URING_SETUP),           # jeq #425, 0, 1
        SockFilter(0x06, 0, 0, 0x00050000 | 38),          # ret ERRNO(ENOSYS)
        SockFilter(0x06, 0, 0, 0x7FFF0000))               # ret ALLOW
    libc = ctypes.CDLL(None, use_errno=True)
    fprog = SockFprog(4, prog)
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:   # NO_NEW_PRIVS; SECCOMP
        raise OSError(ctypes.get_errno(), "could not install the io_uring seccomp filter")


@functools.cache
def _probe() -> Availability:
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        return Availability(False, "valgrind is not installed (Debian: valgrind)")
    if platform.system() != "Linux":
        return Availability(False, "needs Linux (seccomp)")
    return Availability(True, f"valgrind cache simulation, profile {DEFAULT_PROFILE}")


def system_library_flags(flags: list[str]) -> list[str]:
    """The same module with its dispatches in a system library, so tools see them by name."""
    return flags + ["--iree-llvmcpu-link-embedded=false"]


def counting_flags(flags: list[str]) -> list[str]:
    """The module variant valgrind can run: AVX2 at most, dispatches as named system libraries."""
    out = [f for f in flags if not f.startswith("--iree-llvmcpu-target-cpu=")]
    if platform.machine() == "x86_64":
        out.append("--iree-llvmcpu-target-cpu=x86-64-v3")
    return system_library_flags(out)


def parse_annotate(text: str) -> dict[str, dict[str, int]]:
    """`callgrind_annotate --inclusive=no` output -> {dispatch function: {event: count}}.

    A row is the event columns ('1,234', '.' for zero, each maybe followed by '(12.3%)'), then
    'file:function', then '[object]'.
    """
    events, out = None, {}
    for line in text.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
            continue
        if not events or "dispatch_" not in line:
            continue
        nums, name = [], None
        for tok in line.split():
            if tok.startswith("(") or tok.endswith("%)"):
                continue
            if tok == ".":
                nums.append(0)
            elif tok.replace(",", "").isdigit():
                nums.append(int(tok.replace(",", "")))
            elif ":" in tok:
                name = tok.split(":", 1)[1]
                break
            else:
                break
        if name and "dispatch_" in name and len(nums) == len(events):
            out[name] = dict(zip(events, nums))
    return out


def _collect(ctx, profile: str = DEFAULT_PROFILE) -> list[CounterValue]:
    geo = CACHE_PROFILES[profile]
    vmfb = ctx.rebuild(counting_flags)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = ctx.command(device="local-sync", vmfb=vmfb)
        cmd = ["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--I1={geo['I1']}", f"--D1={geo['D1']}",
               f"--LL={geo['LL']}", "--toggle-collect=iree_hal_*executable_issue_call*",
               f"--callgrind-out-file={out}", *run]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=ctx.timeout * 50 + 60,
                              preexec_fn=_no_io_uring)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"valgrind failed (exit {proc.returncode}): {tail}")
        text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(out)], capture_output=True, text=True,
                              timeout=120).stdout
    per = parse_annotate(text)
    if not per:
        raise RuntimeError("callgrind recorded no dispatch function (were dispatches named?)")
    line = int(geo["LL"].split(",")[2])
    note = f"simulated {profile} caches ({geo['source']}); LL misses x {line} B; no prefetch, no write-back"
    v = lambda name, value, dispatch=None: CounterValue(name, value, "B", "simulated", True, "cachegrind",  # noqa: E731
                                                        dispatch, note)
    out_vals = []
    for fn, ev in per.items():
        out_vals += [v("sim_dram_bytes_read", ev.get("DLmr", 0) * line, fn),
                     v("sim_dram_bytes_written", ev.get("DLmw", 0) * line, fn)]
    total_r = sum(e.get("DLmr", 0) for e in per.values()) * line
    total_w = sum(e.get("DLmw", 0) for e in per.values()) * line
    out_vals += [v("sim_dram_bytes_read", total_r), v("sim_dram_bytes_written", total_w),
                 CounterValue("sim_instructions", sum(e.get("Ir", 0) for e in per.values()), "count", "simulated",
                              False, "cachegrind", None, "instructions executed in dispatches")]
    return out_vals


CACHEGRIND = register(Collector("cachegrind", "simulated", "valgrind-simulated DRAM bytes per dispatch",
                                _probe, _collect, cost="expensive",
                                columns=(Column("sim DRAM B", ("sim_dram_bytes_read", "sim_dram_bytes_written"),
                                                vs_model=True, traffic="simulated DRAM"),)))
