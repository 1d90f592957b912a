"""page-faults: the pages a call of the module touches fresh, counted by the OS kernel.

Under the allocator as it comes (`suite run --malloc system`), glibc mmaps each call's large buffers
and unmaps them after, so every call pays the kernel's page faults and page zeroing for them: on
ESPCN, C-NN's 179 MB upsampled image costs about 50 of its 150 ms a call here, and the algorithms
that build a 360-620 MB image 100-170 ms. Which buffers fault depends on IREE's allocations and
glibc's thresholds (a 70 MB transient of REVD's does not; under --malloc retain C-NN's still faults a
third of its), so the pages are counted, not guessed: the kernel's minor-fault count of a timed
process with 3 calls less that of one with 1 call (targets.iree_run.faults_per_call), on this host.

The count is exact and depends only on the module, the runtime flags and the allocator settings, so
it is taken once per module and settings and kept beside the module in the compile cache. The model
charges the bytes at the calibrated cost of a faulted byte (suite.model.compiled_time).
"""
from __future__ import annotations

import hashlib
import json
import os
import resource

from targets import Availability
from targets.collectors import Collector, CounterValue, register

NAME = "page-faults"
FAULTED = "faulted_bytes"              # the model's term (suite.model_check)


def _probe() -> Availability:
    if not hasattr(os, "wait4"):
        return Availability(False, "this system has no wait4() to read a child's page faults")
    return Availability(True, "the kernel's minor-fault count of the timed process (getrusage)")


def _kept(path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
        return doc if float(doc["faults_per_call"]) >= 0 and int(doc["page_bytes"]) > 0 else None
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _collect(ctx) -> list[CounterValue]:
    from targets.iree_run import faults_per_call
    if ctx.emulated:
        raise RuntimeError("page faults are counted on this host only: under an emulator they are the emulator's")
    flags = ctx.runtime_flags(ctx.device)
    key = hashlib.sha256(json.dumps([flags, sorted(ctx.env.items()), ctx.x_path.name]).encode()).hexdigest()[:16]
    kept = ctx.vmfb.with_name(f"{ctx.vmfb.stem}.faults-{key}.json")
    doc = _kept(kept)
    if doc is None:                                # not counted yet, or unreadable: count (again)
        faults, command = faults_per_call(ctx.vmfb, ctx.x_path, flags, ctx.timeout, ctx.env)
        doc = {"faults_per_call": faults, "page_bytes": resource.getpagesize(), "command": command}
        tmp = kept.with_name(f"{kept.name}.{os.getpid()}.tmp")
        try:                                       # whole or not at all: runs may share the cache
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, kept)
        except OSError:
            pass                                   # a read-only cache: count again next time
    note = "minor page faults per call, kernel count (3 calls less 1)"
    return [CounterValue("page_faults", doc["faults_per_call"], "count", "hardware", False, NAME, None, note),
            CounterValue(FAULTED, doc["faults_per_call"] * doc["page_bytes"], "B", "hardware", False, NAME, None,
                         "pages a call touches fresh, times the page size")]


PAGE_FAULTS = register(Collector(NAME, "hardware", "pages each call touches fresh (kernel minor-fault count)",
                                 _probe, _collect, cost="cheap"))
