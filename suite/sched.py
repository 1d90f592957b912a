"""The CPU scheduling policy of the timed processes (``suite run --sched``).

IREE's local-task device runs a module's dispatches on one worker per core while the calling thread
waits: on a 2-vCPU machine that is three threads on two CPUs, and each dependent dispatch wakes a
worker. Under the kernel's normal policy a woken thread may wait behind another one, and a timed
process can stay in that slow mode: the sweep's STDD took 1.1 ms in some processes and 2.1-4.3 ms in
others, and in a default run on this project's VM 43 of IREE's 124 rows had rounds more than 1.4x
apart. The peers' thread pools spin-wait instead, and fewer of their rows split (3-8 of 33-35).

``fifo`` runs the timed processes under SCHED_FIFO at the lowest real-time priority: IREE's tools
behind ``chrt -f 1`` (shown in every recorded command), and every thread of a peer's process while
it times. A woken thread then runs at once, unless the kernel gives the normal-policy tasks their
share (5% of each second, ``/proc/sys/kernel/sched_rt_runtime_us``). Measured here:
- IREE alone (the sweep, --peers none): rows split across rounds 15-17 of 57 in two runs under
  normal, 4 in one under fifo, and 0-1 in two with the suite itself under ``chrt -f 1`` too, whose
  six verdict ratios repeated within 4% from one run to the other (under normal they moved between
  0.90x and 2.47x);
- the default run with the peers: IREE's split rows 13 (cold) and 42 (warm) of 123-125 under fifo,
  19 with the whole suite under chrt, against 43 under normal; ONNX Runtime's spinning threads did
  worse under fifo (11-20 of 35 split, against 8). The noise here also comes in stretches of time
  that every row of a round shares, which no policy removes.
Again with two planned rounds a row (2026-12-05, three warm ``--peers none`` runs of each, alternated):
under fifo one run took 236 s (normal 118-128 s), the rows' medians sat 12-42 of 133 rows past 1.2x
from the normal runs' (4-20 between two normal runs), and two runs left a layer at tau 0.65 and 0.73
(normal: 0.81-0.85 for the lowest layer).
So it is not the default: ``normal`` is, ``fifo`` is for timing IREE on a machine that may give it
a real-time priority, and ``auto`` picks fifo where that is permitted (root or an RLIMIT_RTPRIO).
The fast mode is the same speed either way: fifo removes slow processes, it speeds nothing up.
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
