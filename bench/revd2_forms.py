"""Why REVD2 stays a scalar gather in IREE 3.13 (prints; asserts nothing).

REVD2 (workloads/algorithms/revd2.py) reads its input with tensor.extract because the input row
q + s_a - j depends on the phase a through s_a = (a + crop) div r. This script compiles the ways
tried to give IREE affine maps instead, on one layer (default: ESPCN's D-SP), verifies each
against torch's conv_transpose2d and times it beside the suite's REVD2 and TDCF:

  gather      the suite's REVD2: one generic, tensor.extract gather (IREE: scalar loads)
  affine      phases grouped by equal shift (one group for every D-SP), one generic per group with
              affine maps in correlation order (row q + j, taps flipped); exactly ceil(Kd/r)^2 C_in
              taps per output, each output written once, no shuffle. IREE names it a conv and picks
              vector tiles on the r-sized phase dims (4 lanes on b = 3, 16 reduction lanes on a
              3-wide tap row).
  affine+spec the same with a tuning spec that vectorizes the output width instead. On a batch-1
              layer IREE matches the spec on the batch-less conv and then fails ("failed to build
              pass pipeline"; the batch dim is re-inserted without the lowering config), so the
              spec is tried on the layer split into 2 batch rows (timing only: the seam is not
              exact in that form).
  reverse     the natural tap order (row q - j): an IREE codegen error, kept in
              bench/repro/revd2_reverse_tap_map.mlir with its exact text.

Usage: python bench/revd2_forms.py [--layer cin=32,cout=1,h=321,w=481,k=3,r=3] [--method D-SP]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.build import build_module                                   # noqa: E402
from suite.cache import CompileCache                                   # noqa: E402
from suite.selection import resolve_layers                             # noqa: E402
from targets import get_target                                         # noqa: E402
from targets.iree_run import StageError, benchmark_module, run_module  # noqa: E402
from targets.iree_tools import compiler_tool                           # noqa: E402
from workloads.algorithms import ALGORITHMS                            # noqa: E402
from workloads.algorithms.common import phase_weights, phases          # noqa: E402
from workloads.algorithms.revd2 import _dense, _t                      # noqa: E402
from workloads.methods import deployed_deconv, make_input              # noqa: E402


def _groups(shift: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """Runs of phases with the same shift: (first, end, shift); at most two per axis."""
    out, start = [], 0
    for a in range(1, len(shift) + 1):
        if a == len(shift) or shift[a] != shift[start]:
            out.append((start, a, shift[start]))
            start = a
    return out


def affine_mlir(d, batch: int, h: int, w: int) -> str:
    """REVD2 with affine maps: one generic per group of phases sharing a shift (NCHW)."""
    ph, pw = phases(d, h, w)
    r, t, ci, co = d.stride, d.taps_per_phase, d.cin, d.cout
    w2 = phase_weights(d, ph, pw)                                   # [oc, ic, a, b, j, i]
    hp, wp = h + ph.pad_before + ph.pad_after, w + pw.pad_before + pw.pad_after
    acc_t, full_t = _t(batch, co, ph.q, r, pw.q, r), _t(batch, co, ph.q * r, pw.q * r)
    out_t, x_t, xp_t = _t(batch, co, ph.out, pw.out), _t(batch, ci, h, w), _t(batch, ci, hp, wp)
    dims, par6 = "(n, o, q, a, p, b, c, j, i)", ", ".join(['"parallel"'] * 6)
    lines = ["module {", f"  func.func @main(%x: {x_t}) -> {out_t} {{", "    %zero = arith.constant 0.000000e+00 : f32",
             f"    %xp = tensor.pad %x low[0, 0, {ph.pad_before}, {pw.pad_before}] high[0, 0, {ph.pad_after}, "
             f"{pw.pad_after}] {{", "    ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):",
             "      tensor.yield %zero : f32", f"    }} : {x_t} to {xp_t}", f"    %acc0 = tensor.empty() : {acc_t}"]
    cur, groups = "%acc0", [(ga, gb) for ga in _groups(ph.shift) for gb in _groups(pw.shift)]
    for k, ((a0, a1, sa), (b0, b1, sb)) in enumerate(groups):
        na, nb = a1 - a0, b1 - b0
        g_t = _t(batch, co, ph.q, na, pw.q, nb)
        wg = w2[:, :, a0:a1, b0:b1].flip(4, 5).contiguous()            # correlation order: row q + j
        oh, ow = sa + ph.pad_before - (t - 1), sb + pw.pad_before - (t - 1)
        lines += [f"    %w{k} = arith.constant {_dense(wg)}", f"    %e{k} = tensor.empty() : {g_t}"]
        if d.bias is not None:
            lines += [f"    %b{k} = arith.constant {_dense(d.bias[:, a0:a1, b0:b1].contiguous())}",
                      f"    %i{k} = linalg.generic {{indexing_maps = [affine_map<(n, o, q, a, p, b) -> (o, a, b)>, "
                      f"affine_map<(n, o, q, a, p, b) -> (n, o, q, a, p, b)>], iterator_types = [{par6}]}}",
                      f"        ins(%b{k} : {_t(co, na, nb)}) outs(%e{k} : {g_t}) {{",
                      "    ^bb0(%bv: f32, %o: f32):", "      linalg.yield %bv : f32", f"    }} -> {g_t}"]
        else:
            lines.append(f"    %i{k} = linalg.fill ins(%zero : f32) outs(%e{k} : {g_t}) -> {g_t}")
        lines += [f"    %g{k} = linalg.generic {{indexing_maps = [affine_map<{dims} -> (n, c, q + j + {oh}, "
                  f"p + i + {ow})>, affine_map<{dims} -> (o, c, a, b, j, i)>, affine_map<{dims} -> "
                  f"(n, o, q, a, p, b)>], iterator_types = [{par6}, \"reduction\", \"reduction\", \"reduction\"]}}",
                  f"        ins(%xp, %w{k} : {xp_t}, {_t(co, ci, na, nb, t, t)}) outs(%i{k} : {g_t}) {{",
                  "    ^bb0(%xv: f32, %wv: f32, %o: f32):", "      %m = arith.mulf %xv, %wv : f32",
                  "      %s = arith.addf %o, %m : f32", "      linalg.yield %s : f32", f"    }} -> {g_t}"]
        if len(groups) == 1:
            cur = f"%g{k}"
        else:
            lines.append(f"    %acc{k + 1} = tensor.insert_slice %g{k} into {cur}[0, 0, 0, {a0}, 0, {b0}] "
                         f"[{batch}, {co}, {ph.q}, {na}, {pw.q}, {nb}] [1, 1, 1, 1, 1, 1] : {g_t} into {acc_t}")
            cur = f"%acc{k + 1}"
    lines.append(f"    %full = tensor.collapse_shape {cur} [[0], [1], [2, 3], [4, 5]] : {acc_t} into {full_t}")
    if (ph.out, pw.out) == (ph.q * r, pw.q * r):
        lines.append(f"    return %full : {out_t}")
    else:
        lines += [f"    %y = tensor.extract_slice %full[0, 0, 0, 0] [{batch}, {co}, {ph.out}, {pw.out}] [1, 1, 1, 1]"
                  f" : {full_t} to {out_t}", f"    return %y : {out_t}"]
    return "\n".join(lines + ["  }", "}"]) + "\n"


def width_spec(x_type: str, y_type: str, batch: int) -> str:
    """A tuning spec giving the affine REVD2 generic 16 output columns per vector step (NCHW, one group)."""
    lead = "1, " if batch > 1 else ""
    zero = "1, " if batch > 1 else ""
    return f"""module attributes {{transform.with_named_sequence, iree_codegen.tuning_spec_with_default_entrypoint}} {{
  transform.named_sequence @apply(%op: !transform.any_op {{transform.readonly}}, %cfg: !transform.any_param {{transform.readonly}}) {{
    transform.annotate %op "compilation_info" = %cfg : !transform.any_op, !transform.any_param
    transform.yield
  }}
  transform.named_sequence @match(%op: !transform.any_op {{transform.readonly}}) -> (!transform.any_op, !transform.any_param) {{
    transform.match.operation_name %op ["linalg.generic"] : !transform.any_op
    %x = transform.get_operand %op[0] : (!transform.any_op) -> !transform.any_value
    transform.iree.match.cast_compatible_type %x = {x_type} : !transform.any_value
    %y = transform.get_operand %op[2] : (!transform.any_op) -> !transform.any_value
    transform.iree.match.cast_compatible_type %y = {y_type} : !transform.any_value
    %cfg = transform.param.constant #iree_codegen.compilation_info<
      lowering_config = #iree_cpu.lowering_config<distribution = [{lead}4, 3, 128, 3, 0, 0, 0],
        vector_common_parallel = [{zero}1, 1, 16, 1, 0, 0, 0], vector_reduction = [{'0, ' if batch > 1 else ''}0, 0, 0, 0, 1, 1, 1]>,
      translation_info = #iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<DoubleTilingExpert>>>
      -> !transform.any_param
    transform.yield %op, %cfg : !transform.any_op, !transform.any_param
  }}
  transform.named_sequence @__kernel_config(%v: !transform.any_op {{transform.consumed}}) -> !transform.any_op
      attributes {{iree_codegen.tuning_spec_entrypoint}} {{
    %r = transform.foreach_match in %v @match -> @apply : (!transform.any_op) -> !transform.any_op
    transform.yield %r : !transform.any_op
  }}
}}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", default="cin=32,cout=1,h=321,w=481,k=3,r=3,name=espcn")
    ap.add_argument("--method", default="D-SP", choices=("D-SP", "D-NN"))
    args = ap.parse_args()
    (layer,) = resolve_layers([], [args.layer])
    target, cache = get_target("llvm-cpu"), CompileCache()
    flags, rt = target.flags(), ["--device=local-task"]
    d = deployed_deconv(layer, args.method, 0)
    x = make_input(layer, 0)
    ref = ALGORITHMS["IREE"].lower(d, layer.batch, layer.h, layer.w).module(x).detach().numpy()
    x_path = cache.input_file(x.numpy())
    print(f"{layer.label} {args.method} ({layer.id}), llvm-cpu local-task, IREE's default flags")

    def measure(name: str, mlir: str, input_type: str, extra: list[str] = (), inputs: Path = x_path,
                check: bool = True) -> None:
        try:
            b = build_module(cache, mlir, input_type, [*flags, *extra], 600)
            if check:
                y, _ = run_module(b.vmfb, inputs, rt, 600)
                err = f"max err {np.abs(y - ref).max():.1e}"
            else:
                err = "not verified (timing form)"
            ms = statistics.median(benchmark_module(b.vmfb, inputs, rt, 5, 0.2, 0.1, 600).samples_ms)
            print(f"  {name:12s} {ms:9.2f} ms   {err}")
        except StageError as e:
            print(f"  {name:12s} {e.stage} failed: {e}")

    from suite.export import to_mlir
    for alg in ("TDCF", "REVD2"):
        mlir, itype = to_mlir(ALGORITHMS[alg].lower(d, layer.batch, layer.h, layer.w), x)
        measure("gather" if alg == "REVD2" else "TDCF", mlir, itype)
    affine = affine_mlir(d, layer.batch, layer.h, layer.w)
    measure("affine", affine, "none")
    ph, pw = phases(d, layer.h, layer.w)
    single = len(_groups(ph.shift)) == len(_groups(pw.shift)) == 1
    if not single or layer.cout != 1:      # the spec's tile lists assume IREE folded the unit C_out dim
        print("  (affine+spec: written for one phase group and C_out = 1, ESPCN's case; not tried here)")
    else:
        hp, wp = layer.h + ph.pad_before + ph.pad_after, layer.w + pw.pad_before + pw.pad_after
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "spec.mlir"
            # batch 1: the spec matches the batch-less conv IREE makes of it, then the pipeline fails
            spec.write_text(width_spec(f"tensor<{layer.cin}x{hp}x{wp}xf32>",
                                       f"tensor<{ph.q}x{layer.r}x{pw.q}x{layer.r}xf32>", 1))
            measure("affine+spec", affine, "none", [f"--iree-codegen-tuning-spec-path={spec}"])
            # batch 2 (rows split in two): the spec holds
            half = replace(layer, batch=2, h=-(-layer.h // 2))
            d2 = deployed_deconv(half, args.method, 0)
            ph2, pw2 = phases(d2, half.h, half.w)
            spec.write_text(width_spec(f"tensor<2x{half.cin}x{half.h + ph2.pad_before + ph2.pad_after}x"
                                       f"{half.w + pw2.pad_before + pw2.pad_after}xf32>",
                                       f"tensor<2x{half.cout}x{ph2.q}x{half.r}x{pw2.q}x{half.r}xf32>", 2))
            x2 = cache.input_file(make_input(half, 0).numpy())
            measure("affine+spec2", affine_mlir(d2, 2, half.h, half.w), "none",
                    [f"--iree-codegen-tuning-spec-path={spec}"], inputs=x2, check=False)
    repro = Path(__file__).parent / "repro" / "revd2_reverse_tap_map.mlir"
    proc = subprocess.run([compiler_tool(), str(repro), *flags, "-o", "/dev/null"], capture_output=True, text=True)
    first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), "compiled (the IREE bug is fixed?)")
    print(f"  {'reverse':12s} {first.split('error: ', 1)[-1]}  ({repro.name})")


if __name__ == "__main__":
    main()
