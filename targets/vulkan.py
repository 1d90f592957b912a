"""vulkan: SPIR-V through IREE on whatever Vulkan device the machine has. On machines without a GPU
that is Mesa's lavapipe (llvmpipe), a CPU emulation: its numbers are labelled as such everywhere.
The --iree-vulkan-target is chosen from the device found; SUITE_VULKAN_TARGET overrides it."""
from __future__ import annotations

import functools
import os
import re

from targets import Availability, Target, register
from targets.probe import runtime_devices, tool_output

# device name fragment -> IREE 3.13 Vulkan target (iree-notes.md section 2)
FAMILIES = (("llvmpipe", "llvmpipe"), ("nvidia", "ampere"), ("geforce", "ampere"), ("radeon", "rdna3"),
            ("amd", "rdna3"), ("mali", "valhall"))
DEFAULT_TARGET = "vp_android_baseline_2022"


@functools.cache
def device_info() -> tuple[str, bool]:
    """(device name, is a CPU device) from vulkaninfo, or ('', False) when it is not installed."""
    text = tool_output("vulkaninfo", "--summary")
    name = re.search(r"deviceName\s*=\s*(.+)", text)
    kind = re.search(r"deviceType\s*=\s*(\S+)", text)
    return (name.group(1).strip() if name else "", bool(kind and kind.group(1).endswith("CPU")))


def vulkan_target() -> str:
    if os.environ.get("SUITE_VULKAN_TARGET"):
        return os.environ["SUITE_VULKAN_TARGET"]
    name = device_info()[0].lower()
    return next((t for frag, t in FAMILIES if frag in name), DEFAULT_TARGET)


def _probe() -> Availability:
    name, is_cpu = device_info()
    if not any(d.startswith("vulkan://") for d in runtime_devices()):
        return Availability(False, "no Vulkan device: install a GPU driver, or Mesa's lavapipe "
                                   "(Debian: mesa-vulkan-drivers) for a CPU emulation", compiles=True)
    label = name or "a Vulkan device"
    why = f"{label}: a CPU emulation of Vulkan, for correctness, not GPU performance" if is_cpu else label
    return Availability(True, f"{why} (--iree-vulkan-target={vulkan_target()})", device_name=label, emulated=is_cpu)


VULKAN = register(Target(
    name="vulkan",
    description="SPIR-V through IREE's Vulkan HAL (lavapipe where there is no GPU)",
    compile_flags=("--iree-hal-target-device=vulkan",),
    devices=("vulkan",),
    probe=_probe,
    arch=lambda: (f"--iree-vulkan-target={vulkan_target()}",),
    collectors=("iree-static", "device-timestamps"),
))
