"""llvm-cpu: the host CPU. local-task runs dispatches on a thread pool; local-sync runs them
inline on the calling thread (steadier single-thread numbers on noisy machines)."""
from __future__ import annotations

import functools

from targets import Availability, Target, register


@functools.cache                   # asked once per counter of every row: 0.7 s of a warm run uncached
def _probe() -> Availability:
    try:
        from targets.iree_tools import compiler_tool, runtime_tool
        compiler_tool()
        runtime_tool("iree-run-module")
        runtime_tool("iree-benchmark-module")
    except Exception as e:                                    # noqa: BLE001 - the reason is the point
        return Availability(False, str(e))
    return Availability(True, "host CPU")


LLVM_CPU = register(Target(
    name="llvm-cpu",
    description="host CPU through LLVM (multi-threaded local-task, single-threaded local-sync)",
    compile_flags=("--iree-hal-target-device=local", "--iree-hal-local-target-device-backends=llvm-cpu",
                   "--iree-llvmcpu-target-cpu=host"),
    devices=("local-task", "local-sync"),
    probe=_probe,
    collectors=("iree-static", "page-faults", "perf", "cpu-samples", "dispatch-times", "cachegrind"),
    cpu_tuning_specs=True,
    device_notes={"local-task": "thread pool", "local-sync": "one thread, inline"},
    presets={
        "default": (),
        # pack operands into tiles fitted to the vector unit (matmuls; convs after im2col)
        "data-tiling": ("--iree-opt-data-tiling",),
        # data tiling + IREE's hand-written micro-kernels (mmt4d, pack, unpack)
        "ukernels": ("--iree-opt-data-tiling", "--iree-llvmcpu-enable-ukernels=all"),
        # rewrite NCHW convs to NHWC so the channel loop is the vectorised, contiguous one
        "channels-last": ("--iree-preprocessing-pass-pipeline=builtin.module(util.func("
                          "iree-preprocessing-convert-conv-to-channels-last))",),
        # let the tiler assume 16-float vectors (LLVM splits them into AVX2 registers): a dimension
        # like 9 output channels is then vectorised whole instead of 3 at a time
        "wide-vectors": ("--iree-llvmcpu-target-vector-width-in-bytes=64",),
    },
))
