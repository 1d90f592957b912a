"""Small probes shared by targets: which HAL devices the IREE runtime sees, and tool output."""
from __future__ import annotations

import functools
import shutil
import subprocess


@functools.cache
def runtime_devices() -> tuple[str, ...]:
    """URIs from `iree-run-module --list_devices`, e.g. ('local-sync://', 'vulkan://GPU-...')."""
    from targets.iree_tools import runtime_tool
    try:
        out = subprocess.run([runtime_tool("iree-run-module"), "--list_devices"], capture_output=True, text=True,
                             timeout=60).stdout
    except Exception:                                           # noqa: BLE001 - no runtime: no devices
        return ()
    return tuple(line.strip() for line in out.splitlines() if "://" in line)


@functools.cache
def tool_output(*cmd: str) -> str:
    if not shutil.which(cmd[0]):
        return ""
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
