"""What the C allocator of a timed process does with freed memory (``suite run --malloc``).

IREE's runtime tools, like PyTorch, take each call's large buffers from malloc, and glibc serves
anything over 32 MiB with a fresh mmap and gives it back with munmap. So on big feature maps every
timed call also pays the kernel's page faults and page zeroing for its output and transients:
measured here on the 1024x1024 sweep at r = 4, three quarters of TDCF's CPU time was the kernel
(`--counters cpu-samples` shows it as "(kernel)"), for IREE and for PyTorch eager alike. IREE's
`--device_allocator=caching` does not change it in 3.13.

``retain`` keeps freed memory in the process (glibc tunables: no mmap for large blocks, no trim),
as a deployed application with its own arena would: the timed loop then measures the steady
state, which is what the roofline floor describes. ``system`` is the allocator as it comes.
"""
from __future__ import annotations

import functools
import os
import platform

from suite.errors import UserError

# mmap_max=0: large blocks come from the heap, so a freed block is reused by the next call;
# trim_threshold: never hand the heap's top back to the kernel (16 GiB, past any layer here)
_RETAIN = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"

POLICIES = {
    "system": "the C allocator as it comes (large blocks mmapped per call: page faults in the timed loop)",
    "retain": "freed memory kept in the process (glibc tunables), the steady state of a deployed app",
}


@functools.lru_cache(maxsize=None)
def _libc() -> str:
    return platform.libc_ver()[0]               # reads the interpreter's binary: once per process


def malloc_env(policy: str) -> dict[str, str]:
    """Environment variables that put a child process under ``policy``."""
    if policy not in POLICIES:
        raise UserError(f"unknown malloc policy {policy!r} (known: {', '.join(POLICIES)})")
    if policy == "system":
        return {}
    if _libc() != "glibc":
        raise UserError("--malloc retain needs glibc (it sets GLIBC_TUNABLES); this system's C library "
                        f"is {_libc() or 'unknown'}")
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if _RETAIN in tunables:
        return {"GLIBC_TUNABLES": tunables}
    return {"GLIBC_TUNABLES": f"{tunables}:{_RETAIN}" if tunables else _RETAIN}


def in_effect(policy: str) -> bool:
    """Whether this process itself already runs under ``policy`` (glibc reads tunables at start-up)."""
    return policy == "system" or _RETAIN in os.environ.get("GLIBC_TUNABLES", "")
