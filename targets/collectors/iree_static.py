"""iree-static: what the compiled module itself says, no run needed -- the compulsory traffic of
the compiled schedule. Per dispatch, the bytes of every buffer binding it reads and writes (from
the executable sources IREE dumps while compiling); for the program, the dispatch count and the
transient memory (from IREE's scheduling statistics). Exact for the schedule, blind to caches.
The same compile also dumps each dispatch's lowering choice (codegen pipeline and tile sizes), kept
in the summary so a slow dispatch can be explained by what IREE made of it.
"""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from targets import Availability
from targets.collectors import Collector, Column, CounterValue, register

DUMP_FLAGS = ("--iree-hal-dump-executable-sources-to={dir}", "--iree-scheduling-dump-statistics-format=json",
              "--iree-scheduling-dump-statistics-file={dir}/statistics.json",
              "--iree-hal-dump-executable-configurations-to={dir}/configs")

_ELEM_BYTES = {"f64": 8, "i64": 8, "f32": 4, "i32": 4, "f16": 2, "bf16": 2, "i16": 2, "i8": 1, "i1": 1}
# Several subspans may share one binding at different offsets: IREE packs a call's transient tensors
# (and its constants) into one buffer, so a dispatch that sums partial results reads them all through
# one binding. Each (binding, offset) is a tensor of its own.
_SUBSPAN = re.compile(r"hal\.interface\.binding\.subspan.*?binding\((\d+)\).*?offset\(([^)]*)\).*?"
                      r"dispatch\.tensor<(readonly|writeonly|readwrite):tensor<([0-9x]*)x?([a-z0-9]+)>>")
# a hand-written dispatch (an IREE custom dispatch, e.g. REVD2-HW) binds memrefs: no access mode past
# ReadOnly
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
    for b, offset, access, shape, elem in _SUBSPAN.findall(text):
        bindings[(int(b), offset)] = {"binding": int(b), "access": access, "bytes": tensor_bytes(shape, elem)}
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
    """{'name', 'pipeline', 'tiles': {level: [sizes]}, 'vector'} of a configured executable: the root
    op's lowering config (the one that distributes work), else the first one; and what its vector
    tile holds (``vector_tile``)."""
    m = _EXPORT.search(text)
    p = _PIPELINE.search(text)
    configs = _CONFIG.findall(text)
    root = next((c for c in configs if "distribution" in c), configs[0] if configs else "")
    tiles = {k: [int(x) for x in re.findall(r"-?\d+", v)] for k, v in _TILES.findall(root)}
    line = next((ln for ln in text.splitlines() if root and root in ln), "")
    return {"name": m.group(1) if m else "?", "pipeline": (p.group(1) or p.group(2)) if p else None, "tiles": tiles,
            "vector": vector_tile(line, tiles)}


_MAPS = re.compile(r"affine_map<\(([^)]*)\) -> \(([^)]*)\)>")
_OUTS = re.compile(r"outs\([^:]*:\s*tensor<([0-9x]+)x[a-z]+[0-9]*>")


def vector_tile(op_line: str, tiles: dict) -> dict | None:
    """What the root op's innermost vector tile holds, for an accumulating op written as a generic
    (IREE's convs and contractions): {'in_flight': the accumulator lanes it keeps (the product of its
    parallel vector tile sizes), 'width': its tile along the output's innermost dimension, the one
    vectorised, 'inner': that dimension's extent, 'outputs': the output's elements, 'spatial':
    whether that dimension slides over the input (a conv's output width, where an input index is
    the sum of it and a filter's) rather than a channel}. IREE 3.13 vectorises a conv in NCHW along
    its output width, 8 lanes, its output channels unrolled into separate sums; one in NHWC along
    its output channels. None for anything else."""
    par, red = tiles.get("vector_common_parallel"), tiles.get("vector_reduction")
    maps, outs = _MAPS.findall(op_line), _OUTS.search(op_line)
    if not par or not red or not any(red) or not maps or not outs:
        return None
    dims = [d.strip() for d in maps[-1][0].split(",")]
    inner = maps[-1][1].split(",")[-1].strip()
    if inner not in dims or dims.index(inner) >= len(par) or not par[dims.index(inner)]:
        return None
    shape = [int(x) for x in outs.group(1).split("x")]
    slides = re.compile(rf"\b{inner}\b\s*[+-]|[+-]\s*\b{inner}\b")
    in_flight = outputs = 1
    for t in par:
        in_flight *= t or 1
    for n in shape:
        outputs *= n
    return {"in_flight": in_flight, "width": par[dims.index(inner)], "inner": shape[-1], "outputs": outputs,
            "spatial": any(slides.search(results) for _, results in maps[:-1])}


def spatial_conv_tile(summary: dict) -> tuple[str, dict] | None:
    """(dispatch, vector tile) of the module's largest conv vectorised along its output width
    (``vector_tile``), where it has one: the model's lanes then come from its code, not its channels."""
    found = [(d["name"], d["vector"]) for d in summary.get("lowering", [])
             if d.get("pipeline") == "ConvTileAndDecomposeExpert" and (d.get("vector") or {}).get("spatial")]
    return max(found, key=lambda f: f[1]["outputs"], default=None)


def describe_lowering(d: dict) -> str:
    """One line: the dispatch, its pipeline, and its vector tile sizes."""
    t = d["tiles"]
    vec = ", ".join(f"{k.removeprefix('vector_')} {v}" for k, v in t.items() if k.startswith("vector"))
    return f"{d['name']}: {d['pipeline'] or '?'}" + (f" ({vec})" if vec else "")


# bumped when what a summary holds changes: a stored summary of another version is made again
# (2: hand-written dispatches' memref bindings are counted; 3: each dispatch's vector tile; 4: every
# tensor of a binding that holds several, each at its own offset)
SUMMARY_VERSION = 4


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
# (collector, counters): the accumulator lanes of the module's conv vectorised along its output width
# (spatial_conv_tile), per dispatch; the model's vector term for it (suite.model.compiled_time)
IN_FLIGHT = ("iree-static", ("vector_lanes_in_flight",))


# IREE names each dispatch after its root op (iree-flow-annotate-dispatches): main$async_dispatch_3_
# transpose_63x128x3x2x2_f32. These kinds only move data: no reduction and no MACs. A call runs its
# dispatches one after another, so such a dispatch (C-NN's resize, C-SP's shuffle, a layout copy)
# cannot hide under a conv's compute: the model charges its bytes after the roofs
# (suite.model.compiled_time). Sweep-r2's C-BL: its bilinear resize binds 1.8 MB beside the conv's 1.6.
MOVING_KINDS = frozenset({"elementwise", "transpose", "slow", "memcpy", "copy", "broadcast", "pack", "unpack",
                          "fill", "pad"})
_KIND = re.compile(r"dispatch_\d+_(\w+)")
INITIALIZER = "_initializer"          # an executable of the module's initializers: runs once, when it loads


def moves_data_only(name: str) -> bool:
    """Whether IREE's name for a dispatch says that its root op only moves data (MOVING_KINDS)."""
    m = _KIND.search(name)
    kinds = list(itertools.takewhile(str.isalpha, m.group(1).split("_"))) if m else []   # up to its shape or type
    return bool(kinds) and set(kinds) <= MOVING_KINDS


# (collector, counters): the bytes a call's data-moving dispatches bind (moves_data_only), and the
# dispatches that run once at load rather than in each call (IREE's dispatch count includes them)
MOVEMENT = ("iree-static", ("movement_bytes",))
INITIALIZERS = ("iree-static", ("initializer_dispatches",))
TRANSIENT = ("iree-static", ("transient_bytes",))           # the call's peak transient allocation


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
    per_call = [d for d in s["dispatches"] if not d["name"].startswith(INITIALIZER)]
    moving = [d["name"] for d in per_call if moves_data_only(d["name"])]
    out.append(v(MOVEMENT[1][0], sum(d["bytes_read"] + d["bytes_written"] for d in per_call if d["name"] in moving),
                 "B", note=f"bound by the {len(moving)} dispatch{'es' * (len(moving) != 1)} of a call that only "
                           "move data (elementwise, transpose, copy, broadcast, pack: IREE's names for their root ops)"))
    if s.get("dispatch_count") is not None:
        out.append(v("dispatch_count", s["dispatch_count"], "count", note="includes initializer dispatches"))
        out.append(v(INITIALIZERS[1][0], len(s["dispatches"]) - len(per_call), "count",
                     note="executables of the module's initializers: run once, when the module loads"))
    if s.get("transient_bytes") is not None:
        out.append(v("transient_bytes", s["transient_bytes"], "B", note="peak transient allocation"))
    conv = spatial_conv_tile(s)
    if conv:
        name, tile = conv
        sums = tile["in_flight"] // tile["width"]
        out.append(v(IN_FLIGHT[1][0], tile["in_flight"], "lanes", name,
                     note=f"accumulator lanes of its vector tile: {sums} sum{'s' * (sums != 1)} of "
                          f"{tile['width']} output-width lanes (a conv vectorised along its output width)"))
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
