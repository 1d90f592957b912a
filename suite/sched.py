"""The CPU scheduling policy of the timed processes (``suite run --sched``).

IREE's local-task device runs a module's dispatches on one worker per core while the calling thread
waits: on a 2-vCPU machine that is three threads on two CPUs, and each dependent dispatch wakes a
worker. Under the kernel's normal policy a woken thread may wait behind another of the same process,
and a whole timed process can stay in that slow mode. On this project's VM a third of IREE's rows
(43 of 124 in a default run) had rounds more than 1.4x apart, the sweep's C-SP-vs-D-SP verdicts moved
between 0.90x and 2.47x from run to run, and one flipped from holds to inconclusive. The peers'
thread pools spin-wait instead, and only 3-8 of their 33-35 rows per runtime were split so.

``fifo`` runs the timed processes under SCHED_FIFO at the lowest real-time priority: a woken thread
runs at once (the kernel still keeps 5% of each second for everything else,
``/proc/sys/kernel/sched_rt_runtime_us``). Measured on the sweep: rows split across rounds fell from
15-17 of 57 to 0-1, the verdicts' ratios repeated between runs within 4% (1.36/1.35x, 2.45/2.44x),
and their 95% intervals narrowed to a few percent. The fast mode is the same speed either way (the
sweep's STDD: 1.06-1.15 ms under fifo, 1.09-1.19 ms in normal's fast processes), so fifo removes the
slow mode rather than speeding anything up. The peers time under the same policy (every thread of
their process, while they time). ``auto`` (the default) is fifo where this process may set it (root
or an RLIMIT_RTPRIO), normal elsewhere; the record says which.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil

from suite.errors import UserError

POLICIES = {
    "auto": "fifo where permitted (root or RLIMIT_RTPRIO), normal elsewhere",
    "normal": "the kernel's normal policy, as processes come",
    "fifo": "SCHED_FIFO at real-time priority 1 for the timed processes (no wake-up delay behind other threads)",
}
FIFO_PRIORITY = 1


@functools.lru_cache(maxsize=None)
def fifo_permitted() -> bool:
    """Whether this process may run children under SCHED_FIFO (tried on its own thread, then undone)."""
    if not hasattr(os, "sched_setscheduler") or shutil.which("chrt") is None:
        return False
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
        os.sched_setscheduler(0, policy, param)
    except OSError:
        return False
    return True


def resolve(policy: str) -> str:
    """The policy a run uses: 'auto' decided here; 'fifo' where it is not permitted is a UserError."""
    if policy not in POLICIES:
        raise UserError(f"--sched: unknown policy {policy!r} (known: {', '.join(POLICIES)})")
    if policy == "auto":
        return "fifo" if fifo_permitted() else "normal"
    if policy == "fifo" and not fifo_permitted():
        raise UserError("--sched fifo: this process may not set SCHED_FIFO (run as root, give it CAP_SYS_NICE "
                        "or an RLIMIT_RTPRIO, or use --sched normal)")
    return policy


def command_prefix(policy: str) -> tuple[str, ...]:
    """What a timed command line starts with under ``policy`` (shown in every recorded command)."""
    return ("chrt", "-f", str(FIFO_PRIORITY)) if policy == "fifo" else ()


@contextlib.contextmanager
def this_process(policy: str):
    """Every thread of this process under ``policy`` for the block, then back as they were (the peers'
    timing: their runtime's thread pools already exist; threads started inside inherit it)."""
    if policy != "fifo":
        yield
        return
    before = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        with contextlib.suppress(OSError):
            before[tid] = (os.sched_getscheduler(tid), os.sched_getparam(tid))
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(FIFO_PRIORITY))
    try:
        yield
    finally:
        for tid in map(int, os.listdir("/proc/self/task")):
            policy_, param = before.get(tid, (os.SCHED_OTHER, os.sched_param(0)))
            with contextlib.suppress(OSError):
                os.sched_setscheduler(tid, policy_, param)
