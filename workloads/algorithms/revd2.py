"""REVD2: output-stationary deconvolution; stride holes skipped in kernel space (the paper's own).

MLIR (hand-written, so IREE sees the real loop nest): one linalg.generic over the output viewed
as (N, C_out, Q, r, P, r) -- output pixel (r*q + a, r*p + b) -- with reductions over (C_in, j, i).
The phase index a picks the taps kh = r*j + p_a through the weight's affine map, so there is no
modulo at run time (the role of the paper's KernelOffsetCounter), and the input pixel
(q + s_a - j, p + s_b - i) is gathered with tensor.extract. Each output pixel is produced once,
from exactly ceil(Kd/r)^2 * C_in taps, and written once; the bias initialises the accumulator.
The (Q, r, P, r) output collapses to (r*Q, r*P) for free (row-major), so no shuffle pass exists.
With layout "nhwc" the same loop nest reads (N, H, W, C_in) and writes (N, Q, r, P, r, C_out).
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 2 dispatches -- the input pad and one
reduction_3x128x2x128x2x3x9 (9 = ceil(Kd/r)^2 taps) that writes every output pixel once.
"""
from __future__ import annotations

import numpy as np
import torch

from workloads.algorithms.common import phase_weights, phases
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry


def _dense(a: torch.Tensor) -> str:
    data = np.ascontiguousarray(a.detach().cpu().numpy().astype("<f4"))
    shape = "x".join(map(str, data.shape))
    return f'dense<"0x{data.tobytes().hex().upper()}"> : tensor<{shape}xf32>'


def _t(*dims: int) -> str:
    return "tensor<" + "x".join(map(str, dims)) + "xf32>"


def revd2_mlir(d: Deconv, batch: int, h: int, w: int, layout: str = "nchw") -> str:
    ph, pw = phases(d, h, w)
    r, t, ci, co = d.stride, d.taps_per_phase, d.cin, d.cout
    w2 = phase_weights(d, ph, pw)                                   # [oc, ic, a, b, j, i]
    hp, wp = h + ph.pad_before + ph.pad_after, w + pw.pad_before + pw.pad_after
    last = layout == "nhwc"

    def img(n, c, *spatial):                                        # a shape or index list in the layout
        return (n, *spatial, c) if last else (n, c, *spatial)

    acc_t = _t(*img(batch, co, ph.q, r, pw.q, r))
    full_t = _t(*img(batch, co, ph.q * r, pw.q * r))
    out_t = _t(*img(batch, co, ph.out, pw.out))
    x_t, xp_t, w_t = _t(*img(batch, ci, h, w)), _t(*img(batch, ci, hp, wp)), _t(co, ci, r, r, t, t)
    acc_idx = ", ".join(img("n", "o", "q", "a", "p", "b"))
    pad_low = ", ".join(map(str, img(0, 0, ph.pad_before, pw.pad_before)))
    pad_high = ", ".join(map(str, img(0, 0, ph.pad_after, pw.pad_after)))
    collapse = "[[0], [1, 2], [3, 4], [5]]" if last else "[[0], [1], [2, 3], [4, 5]]"
    par6 = ", ".join(['"parallel"'] * 6)
    lines = [
        f"#acc = affine_map<(n, o, q, a, p, b, c, j, i) -> ({acc_idx})>",
        "#wgt = affine_map<(n, o, q, a, p, b, c, j, i) -> (o, c, a, b, j, i)>",
        "#bias = affine_map<(n, o, q, a, p, b) -> (o, a, b)>",
        f"#id6 = affine_map<(n, o, q, a, p, b) -> ({acc_idx})>",
        "module {",
        f"  func.func @main(%x: {x_t}) -> {out_t} {{",
        f"    %w = arith.constant {_dense(w2)}",
        "    %zero = arith.constant 0.000000e+00 : f32",
        f"    %r = arith.constant {r} : index",
        f"    %ct = arith.constant {d.crop[0]} : index",
        f"    %cl = arith.constant {d.crop[2]} : index",
        f"    %pt = arith.constant {ph.pad_before} : index",
        f"    %pl = arith.constant {pw.pad_before} : index",
        f"    %xp = tensor.pad %x low[{pad_low}] high[{pad_high}] {{",
        "    ^bb0(%i0: index, %i1: index, %i2: index, %i3: index):",
        "      tensor.yield %zero : f32",
        f"    }} : {x_t} to {xp_t}",
        f"    %empty = tensor.empty() : {acc_t}",
    ]
    if d.bias is not None:
        lines += [
            f"    %bias = arith.constant {_dense(d.bias)}",
            f"    %init = linalg.generic {{indexing_maps = [#bias, #id6], iterator_types = [{par6}]}}",
            f"        ins(%bias : {_t(co, r, r)}) outs(%empty : {acc_t}) {{",
            "    ^bb0(%bv: f32, %o: f32):",
            "      linalg.yield %bv : f32",
            f"    }} -> {acc_t}",
        ]
    else:
        lines.append(f"    %init = linalg.fill ins(%zero : f32) outs(%empty : {acc_t}) -> {acc_t}")
    lines += [
        "    %acc = linalg.generic {indexing_maps = [#wgt, #acc], iterator_types = "
        f"[{par6}, \"reduction\", \"reduction\", \"reduction\"]}}",
        f"        ins(%w : {w_t}) outs(%init : {acc_t}) {{",
        "    ^bb0(%wv: f32, %o: f32):",
        "      %n = linalg.index 0 : index",
        "      %q = linalg.index 2 : index",
        "      %a = linalg.index 3 : index",
        "      %p = linalg.index 4 : index",
        "      %b = linalg.index 5 : index",
        "      %c = linalg.index 6 : index",
        "      %j = linalg.index 7 : index",
        "      %i = linalg.index 8 : index",
        # s_a = (a + crop_top) / r: input row q + s_a - j (+ the pad)
        "      %ua = arith.addi %a, %ct : index",
        "      %sa = arith.divui %ua, %r : index",
        "      %h0 = arith.addi %q, %sa : index",
        "      %h1 = arith.addi %h0, %pt : index",
        "      %ih = arith.subi %h1, %j : index",
        "      %ub = arith.addi %b, %cl : index",
        "      %sb = arith.divui %ub, %r : index",
        "      %w0 = arith.addi %p, %sb : index",
        "      %w1 = arith.addi %w0, %pl : index",
        "      %iw = arith.subi %w1, %i : index",
        f"      %xv = tensor.extract %xp[{', '.join(img('%n', '%c', '%ih', '%iw'))}] : {xp_t}",
        "      %m = arith.mulf %xv, %wv : f32",
        "      %s = arith.addf %o, %m : f32",
        "      linalg.yield %s : f32",
        f"    }} -> {acc_t}",
        f"    %full = tensor.collapse_shape %acc {collapse} : {acc_t} into {full_t}",
    ]
    if (ph.out, pw.out) == (ph.q * r, pw.q * r):
        lines.append(f"    return %full : {out_t}")
    else:
        lines += [
            f"    %y = tensor.extract_slice %full[0, 0, 0, 0] [{', '.join(map(str, img(batch, co, ph.out, pw.out)))}]"
            " [1, 1, 1, 1]"
            f" : {full_t} to {out_t}",
            f"    return %y : {out_t}",
        ]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def counts(g: DeconvGeometry) -> Counts:
    lay = g.layer
    return Counts(lay.batch * lay.cin * lay.cout * g.t * g.t * g.oh * g.ow, (g.input, g.weights, g.output), g.size,
                  lanes=1, rate="gather")  # its inputs gathered with tensor.extract: IREE emits scalar code
