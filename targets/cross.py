"""Cross-compiled edge CPUs: built here, run elsewhere (see `suite bundle`). Compile-only on this machine."""
from __future__ import annotations

from targets import Availability, Target, register


def _compile_only(what: str):
    return lambda: Availability(False, f"compile-only: {what} modules run on the device itself (suite bundle)",
                                compiles=True)


def _cpu(name: str, description: str, triple: str, cpu: str, extra: tuple[str, ...] = ()) -> Target:
    return register(Target(
        name=name, description=description,
        compile_flags=("--iree-hal-target-device=local", "--iree-hal-local-target-device-backends=llvm-cpu",
                       f"--iree-llvmcpu-target-triple={triple}", f"--iree-llvmcpu-target-cpu={cpu}", *extra),
        devices=("local-task", "local-sync"), probe=_compile_only(description)))


RPI4 = _cpu("aarch64-a72", "Raspberry Pi 4 (Cortex-A72, aarch64)", "aarch64-unknown-linux-gnu", "cortex-a72")
RISCV64 = _cpu("riscv64", "64-bit RISC-V with the vector extension (RVV 1.0)", "riscv64-unknown-linux-gnu",
               "generic-rv64", ("--iree-llvmcpu-target-abi=lp64d",
                                "--iree-llvmcpu-target-cpu-features=+m,+a,+f,+d,+c,+v"))
