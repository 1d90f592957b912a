"""cuda: NVIDIA GPUs through IREE's CUDA HAL. Compiled for the GPU found (sm_ from its compute
capability; IREE 3.13 cannot target sm_90, so Hopper gets sm_89 PTX, which the driver JIT-compiles
for it); run where a GPU and libcuda exist, compile-only (for sm_80) elsewhere. SUITE_CUDA_TARGET
overrides the sm_ version."""
from __future__ import annotations

import ctypes.util
import functools
import os

from targets import Availability, Target, register
from targets.probe import runtime_devices, tool_output

SUPPORTED = ("sm_80", "sm_86", "sm_89")


@functools.cache
def compute_capability() -> str:
    lines = tool_output("nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader").strip().splitlines()
    return lines[0].strip() if lines else ""


def cuda_target() -> str:
    if os.environ.get("SUITE_CUDA_TARGET"):
        return os.environ["SUITE_CUDA_TARGET"]
    cc = compute_capability()
    if not cc:
        return "sm_80"
    sm = "sm_" + cc.replace(".", "")
    if sm in SUPPORTED:
        return sm
    return "sm_89" if float(cc) > 8.9 else "sm_80"


def _probe() -> Availability:
    if not ctypes.util.find_library("cuda"):
        return Availability(False, "compile-only here: no CUDA driver (libcuda.so not found)", compiles=True)
    if not any(d.startswith("cuda://") for d in runtime_devices()):
        return Availability(False, "compile-only here: IREE's runtime sees no CUDA device", compiles=True)
    cc = compute_capability()
    note = f"compute capability {cc}, compiled for {cuda_target()}" if cc else f"compiled for {cuda_target()}"
    return Availability(True, note, device_name=f"NVIDIA GPU ({note})")


CUDA = register(Target(
    name="cuda",
    description="NVIDIA GPUs through IREE's CUDA HAL",
    compile_flags=("--iree-hal-target-device=cuda",),
    devices=("cuda",),
    probe=_probe,
    arch=lambda: (f"--iree-cuda-target={cuda_target()}",),
    collectors=("iree-static", "ncu"),
))
