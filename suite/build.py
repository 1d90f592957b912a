"""MLIR -> compiled module, through the content-hashed cache (one place, used by every caller)."""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from suite.cache import CompileCache, atomic_write
from suite.iree_run import compile_module
from suite.iree_tools import versions


@dataclass(frozen=True)
class Built:
    vmfb: Path
    key: str
    cached: bool
    seconds: float
    command: str


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
    if cache.lookup(key) is not None:
        return Built(vmfb, key, True, 0.0, command)
    t0 = time.perf_counter()
    data, _ = compile_module(mlir_path, vmfb, input_type, flags, timeout)
    cache.store(key, data)
    return Built(vmfb, key, False, time.perf_counter() - t0, command)
