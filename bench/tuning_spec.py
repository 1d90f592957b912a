"""What an IREE tuning spec does for the ESPCN layer's convolution, and why the suite's tuned
form (layout nhwc-blocked, workloads/blocked_conv.py) splits a batch-1 image in two (prints;
asserts nothing).

The conv of C-SP (32 -> 9 channels, 3x3, 321x481, NHWC) is compiled three ways and timed:
  1. IREE's own heuristics (vector tile 3 output channels: 9 has no divisor of 8 but 3);
  2. a transform-dialect tuning spec (--iree-codegen-tuning-spec-path) that sets the lowering
     config: one output pixel, all 9 channels, the whole 32-channel reduction per vector op;
  3. the same spec on the batch-1 form the catalogue really has.
In IREE 3.13, (3) fails: the spec is applied by MaterializeUserConfigs, then
InsertBatchDimForBatchlessConvPass rebuilds the batch-less conv without its lowering_config, the
function keeps the spec's translation_info, so no tiling happens and codegen stops on "large vector
sizes". (2) therefore uses batch 2 (the image's rows split in two, as a network's batch would be).

Usage: python bench/tuning_spec.py [--threads 2]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targets.iree_tools import compiler_tool, runtime_tool         # noqa: E402

TARGET = ["--iree-hal-target-device=local", "--iree-hal-local-target-device-backends=llvm-cpu",
          "--iree-llvmcpu-target-cpu=host"]
CIN, COUT, H, W, K = 32, 9, 321, 481, 3


def conv_mlir(n: int) -> str:
    h = -(-H // n)                                     # output rows per batch entry
    x, y = f"tensor<{n}x{h + K - 1}x{W + K - 1}x{CIN}xf32>", f"tensor<{n}x{h}x{W}x{COUT}xf32>"
    return f"""func.func @main(%x: {x}, %w: tensor<{K}x{K}x{CIN}x{COUT}xf32>) -> {y} {{
  %c0 = arith.constant 0.0 : f32
  %e = tensor.empty() : {y}
  %z = linalg.fill ins(%c0 : f32) outs(%e : {y}) -> {y}
  %r = linalg.conv_2d_nhwc_hwcf {{dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>}}
       ins(%x, %w : {x}, tensor<{K}x{K}x{CIN}x{COUT}xf32>) outs(%z : {y}) -> {y}
  return %r : {y}
}}
"""


# Loops of the NHWC conv generic: (n, oh, ow, f, kh, kw, c). 0 = the whole extent.
SPEC = """module attributes {transform.with_named_sequence, iree_codegen.tuning_spec_with_default_entrypoint} {
  transform.named_sequence @apply(%op: !transform.any_op {transform.readonly}, %cfg: !transform.any_param {transform.readonly}) {
    transform.annotate %op "compilation_info" = %cfg : !transform.any_op, !transform.any_param
    transform.yield
  }
  transform.named_sequence @match(%op: !transform.any_op {transform.readonly}) -> (!transform.any_op, !transform.any_param) {
    transform.match.operation_name %op ["linalg.generic"] : !transform.any_op
    %cfg = transform.param.constant #iree_codegen.compilation_info<
      lowering_config = #iree_cpu.lowering_config<distribution = [1, 7, 32, 0, 0, 0, 0],
        vector_common_parallel = [1, 1, 1, 0, 0, 0, 0], vector_reduction = [0, 0, 0, 0, 1, 1, 0]>,
      translation_info = #iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<ConvTileAndDecomposeExpert>>>
      -> !transform.any_param
    transform.yield %op, %cfg : !transform.any_op, !transform.any_param
  }
  transform.named_sequence @__kernel_config(%v: !transform.any_op {transform.consumed}) -> !transform.any_op
      attributes {iree_codegen.tuning_spec_entrypoint} {
    %r = transform.foreach_match in %v @match -> @apply : (!transform.any_op) -> !transform.any_op
    transform.yield %r : !transform.any_op
  }
}
"""


def build_and_time(tmp: Path, name: str, n: int, spec: Path | None, threads: int) -> str:
    src, vmfb = tmp / f"{name}.mlir", tmp / f"{name}.vmfb"
    src.write_text(conv_mlir(n))
    flags = TARGET + ([f"--iree-codegen-tuning-spec-path={spec}"] if spec else [])
    c = subprocess.run([compiler_tool(), *flags, str(src), "-o", str(vmfb)], capture_output=True, text=True)
    if c.returncode:
        first = next((ln for ln in c.stderr.splitlines() if "error" in ln), c.stderr.strip()[:200])
        return "compile failed: " + re.sub(r"^.*?error: ", "", first)
    h = -(-H // n)
    b = subprocess.run([runtime_tool("iree-benchmark-module"), f"--module={vmfb}", "--device=local-task",
                        f"--task_topology_max_group_count={threads}", "--function=main",
                        f"--input={n}x{h + K - 1}x{W + K - 1}x{CIN}xf32", f"--input={K}x{K}x{CIN}x{COUT}xf32",
                        "--benchmark_repetitions=5", "--benchmark_min_time=0.2s"], capture_output=True, text=True)
    m = re.search(r"real_time_median\s+([\d.]+) ms", b.stdout)
    return f"{float(m.group(1)):8.1f} ms" if m else "run failed: " + (b.stderr.strip()[-200:] or b.stdout[-200:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        spec = tmp / "spec.mlir"
        spec.write_text(SPEC)
        print(f"ESPCN C-SP conv, NHWC {CIN}->{COUT} ch, {K}x{K}, {H}x{W}, llvm-cpu local-task, {args.threads} threads")
        for label, n, s in (("IREE heuristics, batch 1", 1, None), ("IREE heuristics, batch 2 (rows split)", 2, None),
                            ("tuning spec, batch 2 (rows split)", 2, spec), ("tuning spec, batch 1", 1, spec)):
            print(f"  {label:40s} {build_and_time(tmp, label.replace(' ', '_').replace(',', ''), n, s, args.threads)}")


if __name__ == "__main__":
    main()
