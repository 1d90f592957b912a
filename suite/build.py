"""MLIR -> compiled module, through the content-hashed cache (one place, used by every caller)."""
from __future__ import annotations

import json
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from suite.cache import CompileCache, atomic_write
from targets.iree_run import compile_module
from targets.iree_tools import versions


@dataclass(frozen=True)
class Built:
    vmfb: Path
    key: str
    cached: bool
    seconds: float
    command: str
    mlir_path: Path | None = None
    input_type: str = "none"
    flags: tuple[str, ...] = ()


def _compile_with_dump(cache: CompileCache, key: str, mlir_path: Path, vmfb: Path, input_type: str,
                       flags: list[str], timeout: float) -> bytes:
    """Compile, and keep what iree-static needs from the same compile (sources, statistics)."""
    from targets.collectors.iree_static import DUMP_FLAGS, summarize_dump
    with tempfile.TemporaryDirectory() as dump:
        data, _ = compile_module(mlir_path, vmfb, input_type, flags, timeout,
                                 [f.format(dir=dump) for f in DUMP_FLAGS])
        atomic_write(cache.static_path(key), json.dumps(summarize_dump(Path(dump))))
    return data


def static_summary(cache: CompileCache, built: Built, timeout: float) -> dict:
    """The module's static summary; compiles once more with dumps if an older cache entry lacks it."""
    from targets.collectors.iree_static import SUMMARY_VERSION
    path = cache.static_path(built.key)
    try:
        summary = json.loads(path.read_text())
        if summary.get("version") == SUMMARY_VERSION:   # older entries are redone
            return summary
    except (OSError, ValueError):
        pass
    _compile_with_dump(cache, built.key, built.mlir_path, built.vmfb, built.input_type, list(built.flags), timeout)
    return json.loads(path.read_text())


def compiler_version() -> str:
    v = versions()
    return v.get("iree-compiler-build", v["iree-base-compiler"])


def build_module(cache: CompileCache, mlir: str, input_type: str, flags: list[str], timeout: float) -> Built:
    key = CompileCache.key(mlir, [f"--iree-input-type={input_type}", *flags], compiler_version())
    mlir_path, vmfb = cache.mlir_path(key), cache.vmfb_path(key)
    if not mlir_path.exists():
        atomic_write(mlir_path, mlir)
    command = shlex.join(["iree-compile", str(mlir_path), f"--iree-input-type={input_type}", *flags,
                          "-o", str(vmfb)])
    meta = dict(mlir_path=mlir_path, input_type=input_type, flags=tuple(flags))
    if cache.lookup(key) is not None:
        return Built(vmfb, key, True, 0.0, command, **meta)
    t0 = time.perf_counter()
    data = _compile_with_dump(cache, key, mlir_path, vmfb, input_type, flags, timeout)
    cache.store(key, data)
    return Built(vmfb, key, False, time.perf_counter() - t0, command, **meta)


def compile_flags(cache: CompileCache, target, preset: str, spec: str | None) -> list[str]:
    """A target's flags for a preset, plus the workload's tuning spec where the target takes one;
    the spec's path names its content, so the compile cache tells specs apart."""
    flags = target.flags(preset)
    if spec and target.cpu_tuning_specs:
        flags.append(f"--iree-codegen-tuning-spec-path={cache.text_file(spec, '.spec.mlir')}")
    return flags
