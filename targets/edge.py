"""Where a module's runtime tools run: on this host, or emulated under qemu-user with IREE's own
runtime for the device's architecture (the manylinux wheel of iree-base-runtime, unpacked by
`scripts/install.sh --edge` into .edge/). What qemu proves is that the real aarch64 code computes
the right answer; its timings are not device times and are labelled so everywhere."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from workloads.errors import UserError

EDGE_DIR = Path(__file__).resolve().parent.parent / ".edge"

# target -> (qemu-user binary, the Debian cross C library's sysroot, the wheel's platform tag)
QEMU = {"aarch64-a72": ("qemu-aarch64", "/usr/aarch64-linux-gnu", "manylinux_2_28_aarch64")}


@dataclass(frozen=True)
class Launcher:
    """How IREE's runtime tools are started."""
    name: str                                   # local | qemu
    prefix: tuple[str, ...] = ()                # e.g. qemu-aarch64 -L SYSROOT
    tools_dir: str | None = None                # None: this host's iree-base-runtime
    emulated: bool = False

    def tool(self, name: str) -> str:
        if self.tools_dir is None:
            from targets.iree_tools import runtime_tool
            return runtime_tool(name)
        return str(Path(self.tools_dir) / name)


LOCAL = Launcher("local")


def tools_dir(target: str) -> Path:
    return EDGE_DIR / f"iree-runtime-{target}" / "iree" / "_runtime_libs"


def qemu_launcher(target: str) -> Launcher:
    """The qemu-user launcher for ``target``, or a UserError saying what is missing here."""
    if target not in QEMU:
        raise UserError(f"--runner qemu: no emulated runtime for target {target!r} "
                        f"(emulated: {', '.join(QEMU)}; riscv64 has no IREE runtime wheel to run)")
    qemu, sysroot, _ = QEMU[target]
    binary = shutil.which(qemu)
    if binary is None:
        raise UserError(f"--runner qemu: {qemu} is not installed (scripts/install.sh --edge installs qemu-user)")
    if not Path(sysroot).is_dir():
        raise UserError(f"--runner qemu: the C library for {target} is missing at {sysroot} "
                        "(scripts/install.sh --edge installs libc6-arm64-cross)")
    tools = tools_dir(target)
    for t in ("iree-run-module", "iree-benchmark-module"):
        if not (tools / t).is_file():
            raise UserError(f"--runner qemu: IREE's {target} runtime is not unpacked at {tools} "
                            "(scripts/install.sh --edge fetches it)")
    return Launcher("qemu", (binary, "-L", sysroot), str(tools), emulated=True)


def launcher(name: str, target: str) -> Launcher:
    if name == "local":
        return LOCAL
    if name == "qemu":
        return qemu_launcher(target)
    raise UserError(f"--runner: unknown runner {name!r} (local, qemu)")
