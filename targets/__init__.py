"""IREE targets: one registry. A target knows its compile flags, its runtime devices and whether
it can run on this machine (and, if not, exactly why)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from workloads.errors import UserError


@dataclass(frozen=True)
class Availability:
    usable: bool                       # modules for it run on this machine
    reason: str = ""
    compiles: bool = True              # iree-compile can build for it here (compile-only when not usable)
    device_name: str = ""
    emulated: bool = False             # a CPU emulation of a GPU API (lavapipe): not GPU numbers


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    compile_flags: tuple[str, ...]
    devices: tuple[str, ...]                     # runtime --device values; the first is the default
    probe: Callable[[], Availability]
    device_notes: dict[str, str] = field(default_factory=dict)
    # named compilation strategies: extra iree-compile flags; "default" adds none
    presets: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"default": ()})
    # flags chosen from the device found (a GPU family, an sm_ version), computed once when needed
    arch: Callable[[], tuple[str, ...]] | None = None
    collectors: tuple[str, ...] = ("iree-static",)       # counter collectors that apply to this target
    # takes a workload's llvm-cpu tuning spec (its lowering configs are #iree_cpu ones)
    cpu_tuning_specs: bool = False

    @property
    def cpu_arch(self) -> str | None:
        """The CPU architecture its code is for (``uname -m`` spelling), or None for a GPU target."""
        if "--iree-hal-local-target-device-backends=llvm-cpu" not in self.compile_flags:
            return None
        for f in self.compile_flags:
            if f.startswith("--iree-llvmcpu-target-triple="):
                return f.split("=", 1)[1].split("-")[0]
        import platform
        machine = platform.machine().lower()
        return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)

    @property
    def for_this_cpu(self) -> bool:
        """A CPU target that compiles for the CPU it runs on (no target triple of its own)."""
        return self.cpu_arch is not None and not any(
            f.startswith("--iree-llvmcpu-target-triple=") for f in self.compile_flags)

    @property
    def default_device(self) -> str:
        return self.devices[0]

    def flags(self, preset: str = "default") -> list[str]:
        return [*self.compile_flags, *(self.arch() if self.arch else ()), *self.preset_flags(preset)]

    def preset_flags(self, preset: str) -> tuple[str, ...]:
        """A preset's own flags; presets compose with '+' (channels-last+wide-vectors), in order."""
        out: list[str] = []
        for part in preset.split("+"):
            if part not in self.presets:
                raise UserError(f"target {self.name} has no preset {part!r} "
                                f"(presets: {', '.join(self.presets)}; combine them with '+')")
            out += [f for f in self.presets[part] if f not in out]
        return tuple(out)

    def availability(self) -> Availability:
        return self.probe()

    def runtime_flags(self, device: str, threads: int | None) -> list[str]:
        flags = [f"--device={device}"]
        if threads and device == "local-task":
            flags.append(f"--task_topology_group_count={threads}")
        return flags


TARGETS: dict[str, Target] = {}


def register(target: Target) -> Target:
    TARGETS[target.name] = target
    return target


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise UserError(f"unknown target {name!r} (known: {', '.join(TARGETS)})") from None


from targets import llvm_cpu, vulkan, cuda, cross  # noqa: E402,F401,I001  (each registers itself, in this order)
