"""Where IREE's command-line tools live, and which versions are installed.

The runtime's console scripts in the venv are Python wrappers; calling the ELF binaries directly
saves ~100 ms of interpreter start per call, which matters when timing small workloads.
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
from pathlib import Path

from workloads.errors import UserError


@functools.cache
def runtime_tool(name: str) -> str:
    import iree.runtime
    path = Path(iree.runtime.__file__).parent.parent / "_runtime_libs" / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise UserError(f"IREE runtime tool {name!r} not found: is iree-base-runtime installed?")


@functools.cache
def compiler_tool(name: str = "iree-compile") -> str:
    from iree.compiler.tools.binaries import find_tool
    return find_tool(name)


@functools.cache
def versions() -> dict[str, str]:
    out = {}
    for dist in ("iree-base-compiler", "iree-base-runtime", "iree-turbine", "torch", "numpy", "upsampling-suite"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    try:
        import iree.compiler.version as cv
        out["iree-compiler-build"] = f"{cv.VERSION} ({getattr(cv, 'REVISIONS', {}).get('IREE', '?')})"
    except Exception:                                         # pragma: no cover - informative only
        pass
    return out
