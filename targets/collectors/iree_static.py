"""iree-static: what the compiled module itself says, no run needed -- the compulsory traffic of
the compiled schedule. Per dispatch, the bytes of every buffer binding it reads and writes (from
the executable sources IREE dumps while compiling); for the program, the dispatch count and the
transient memory (from IREE's scheduling statistics). Exact for the schedule, blind to caches.
The same compile also dumps each dispatch's lowering choice (codegen pipeline and tile sizes), kept
in the summary so a slow dispatch can be explained by what IREE made of it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, Column, CounterValue, register

DUMP_FLAGS = ("--iree-hal-dump-executable-sources-to={dir}", "--iree-scheduling-dump-statistics-format=json",
              "--iree-scheduling-dump-statistics-file={dir}/statistics.json",
              "--iree-hal-dump-executable-configurations-to={dir}/configs")

_ELEM_BYTES = {"f64": 8, "i64": 8, "f32": 4, "i32": 4, "f16": 2, "bf16": 2, "i16": 2, "i8": 1, "i1": 1}
_SUBSPAN = re.compile(r"hal\.interface\.binding\.subspan.*?binding\((\d+)\).*?"
                      r"dispatch\.tensor<(readonly|writeonly|readwrite):tensor<([0-9x]*)x?([a-z0-9]+)>>")
# a hand-written dispatch (an IREE custom dispatch, e.g. REVD2-HW) binds memrefs: no access mode past
# ReadOnly, and several subspans may share one binding at different offsets (IREE packs constants)
_MEMREF_SUBSPAN = re.compile(r"hal\.interface\.binding\.subspan.*?binding\((\d+)\).*?offset\(([^)]*)\)\s*"
                             r"flags\(\"?([\w|]+)\"?\)\s*:\s*memref<([0-9x]*)x([a-z0-9]+)>")
_EXPORT = re.compile(r"hal\.executable\.export public @(\S+)")


def tensor_bytes(shape: str, elem: str) -> int:
    n = 1
    for d in filter(None, shape.split("x")):
        n *= int(d)
    return n * _ELEM_BYTES[elem]


def parse_dispatch_source(text: str) -> dict:
    """{'name', 'bindings': [{'binding', 'access', 'bytes'}], 'bytes_read', 'bytes_written'}."""
    m = _EXPORT.search(text)
    bindings = {}
    for b, access, shape, elem in _SUBSPAN.findall(text):
        bindings[(int(b), "")] = {"binding": int(b), "access": access, "bytes": tensor_bytes(shape, elem)}
    for b, offset, flags, shape, elem in _MEMREF_SUBSPAN.findall(text):
        # not ReadOnly: the kernel's output (a hand-written kernel writes its results; it reads only inputs)
        access = "readonly" if "ReadOnly" in flags else "writeonly"
        bindings[(int(b), offset)] = {"binding": int(b), "access": access, "bytes": tensor_bytes(shape, elem)}
    rows = [bindings[k] for k in sorted(bindings)]
    return {"name": m.group(1) if m else "?", "bindings": rows,
            "bytes_read": sum(r["bytes"] for r in rows if r["access"] in ("readonly", "readwrite")),
            "bytes_written": sum(r["bytes"] for r in rows if r["access"] in ("writeonly", "readwrite"))}


_PIPELINE = re.compile(r"pipeline = #\w+\.pipeline<(\w+)>|pipeline = (\w+)")
_CONFIG = re.compile(r"lowering_config<([^<>]*)>")
_TILES = re.compile(r"(\w+) = \[([^\]]*)\]")


def parse_dispatch_config(text: str) -> dict:
    """{'name', 'pipeline', 'tiles': {level: [sizes]}} of a configured executable: the root op's
    lowering config (the one that distributes work), else the first one."""
    m = _EXPORT.search(text)
    p = _PIPELINE.search(text)
    configs = _CONFIG.findall(text)
    root = next((c for c in configs if "distribution" in c), configs[0] if configs else "")
    tiles = {k: [int(x) for x in re.findall(r"-?\d+", v)] for k, v in _TILES.findall(root)}
    return {"name": m.group(1) if m else "?", "pipeline": (p.group(1) or p.group(2)) if p else None, "tiles": tiles}


def describe_lowering(d: dict) -> str:
    """One line: the dispatch, its pipeline, and its vector tile sizes."""
    t = d["tiles"]
    vec = ", ".join(f"{k.removeprefix('vector_')} {v}" for k, v in t.items() if k.startswith("vector"))
    return f"{d['name']}: {d['pipeline'] or '?'}" + (f" ({vec})" if vec else "")


# bumped when what a summary holds changes: a stored summary of another version is made again
# (2: hand-written dispatches' memref bindings are counted)
SUMMARY_VERSION = 2


def summarize_dump(folder: Path) -> dict:
    """Everything the collector needs from one compile's dump folder, as plain JSON."""
    dispatches = [parse_dispatch_source(p.read_text()) for p in sorted(Path(folder).glob("*.mlir"))]
    lowering = [parse_dispatch_config(p.read_text()) for p in sorted((Path(folder) / "configs").glob("*.mlir"))]
    stats = {}
    try:
        stats = json.loads((Path(folder) / "statistics.json").read_text()).get("stream-aggregate", {})
    except (OSError, ValueError):
        pass
    execution = stats.get("execution", {})
    return {"version": SUMMARY_VERSION, "dispatches": dispatches, "lowering": lowering,
            "dispatch_count": execution.get("dispatch-count"),
            "transient_bytes": execution.get("transient-memory-size"),
            "constant_bytes": stats.get("global", {}).get("constant-size")}


# (collector, counters): the dispatches of a call, from IREE's own statistics (initializer dispatches
# included, so an estimate; an executable dispatched twice counts twice)
DISPATCHES = ("iree-static", ("dispatch_count",))


def values_from_summary(s: dict) -> list[CounterValue]:
    v = lambda name, value, unit, dispatch=None, note="": CounterValue(  # noqa: E731
        name, value, unit, "static", False, "iree-static", dispatch, note)
    out = [v("dispatch_bytes_read", d["bytes_read"], "B", d["name"]) for d in s["dispatches"]]
    out += [v("dispatch_bytes_written", d["bytes_written"], "B", d["name"]) for d in s["dispatches"]]
    out += [v("bytes_read", sum(d["bytes_read"] for d in s["dispatches"]), "B",
              note="sum over the module's dispatches of the bindings they read"),
            v("bytes_written", sum(d["bytes_written"] for d in s["dispatches"]), "B",
              note="sum over the module's dispatches of the bindings they write"),
            v("executables", len(s["dispatches"]), "count")]
    if s.get("dispatch_count") is not None:
        out.append(v("dispatch_count", s["dispatch_count"], "count", note="includes initializer dispatches"))
    if s.get("transient_bytes") is not None:
        out.append(v("transient_bytes", s["transient_bytes"], "B", note="peak transient allocation"))
    return out


def _collect(ctx) -> list[CounterValue]:
    summary = ctx.static_summary()
    return values_from_summary(summary) if summary else []


def _probe() -> Availability:
    return Availability(True, "reads the compiled module's own dispatch sources and statistics")


IREE_STATIC = register(Collector("iree-static", "static", "dispatch count and bytes bound by each dispatch",
                                 _probe, _collect, cost="free",
                                 columns=(Column("static B", ("bytes_read", "bytes_written"), vs_model=True,
                                                 traffic="static"),)))
