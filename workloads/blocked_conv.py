"""The blocked form of a stride-1 convolution (layout 'nhwc-blocked'): the same numbers, shaped so IREE's llvm-cpu conv
codegen can use full vectors and register blocking, plus the tuning spec that asks for them.

IREE 3.13 picks the vector tile of an NHWC conv among divisors of each loop's extent: ESPCN's
9 output channels get 3 at a time (or 9 split badly across two AVX2 registers), and its 481
output columns (13 x 37) get one at a time, so no register blocking. Its tile-size heuristics
also cannot be overridden on a batch-1 conv: a tuning spec's lowering_config is dropped when
InsertBatchDimForBatchlessConvPass rebuilds the conv (bench/tuning_spec.py reproduces that). So
the blocked form
  - pads the output channels with zero filters to a multiple of the vector tile (9 -> 16),
  - pads the input on the right so the output width is a multiple of the column tile (481 -> 488),
  - splits a batch-1 image into two batch entries of half the rows each, sharing no rows, so the
    split is a free reshape of the padded input; the K-1 output rows across the seam, which need
    rows of both halves, come from a small separate conv,
and its tuning spec (exact shapes; llvm-cpu only) sets the tiles: 4 columns x 16 channels per
vector step, 8 input channels per reduction step. The extra output is sliced away in the same
module. Measured here (2 threads, ESPCN's conv alone, NHWC): 41 ms with IREE's tiles, 8.5 ms blocked.

A conv followed by a pixel shuffle (C-SP, TDCF) can take the shuffle too (``shuffle=r``). Its padded
channels are then laid out as (C', R, R') >= (C, r, r) -- ESPCN's 9 phases as a 4 x 4 grid in the 16
channels -- so that slicing the padding away is a slice of a free reshape that IREE fuses into the
shuffle's transpose: after the conv only transposes, no strided slice copy.

The price is the copy-in: IREE zero-fills the padded input and copies the image in (memset + one
pad dispatch). At ESPCN, `--counters cpu-samples` puts it at 16% of the CPU time, against 64% for the
conv and 9% for the shuffles and the seam. (Halves with K-1 shared halo rows, as before, cost another
copy that stacked them: 8% of the CPU time, gone with the seam.) Tried, and no better:
per-half tensor.pad with --iree-flow-enable-pad-handling (no fill left, but IREE's pad
dispatch moves 32 floats at a time through a stack buffer), a gather of rows (scalar), an unfold
(IREE folds it into the conv's indexing, a non-conv generic at 180 ms), pad fusion into the conv.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


def round_up(n: int, m: int) -> int:
    return -(-n // m) * m


@dataclass(frozen=True)
class ConvTiles:
    """Vector tile sizes for the NHWC conv loops (n, oh, ow, f, kh, kw, c)."""
    f: int            # output channels per vector step
    ow: int           # output columns per vector step (register blocking)
    c: int            # input channels per reduction step
    rows: int = 4     # output rows per workgroup
    cols: int = 8     # output columns per workgroup

    @classmethod
    def for_conv(cls, cin: int, cout: int) -> "ConvTiles":
        f = 16 if cout > 8 else 8
        # 4 x 16 or 8 x 8 accumulators: 8 AVX2 registers, room left for weights and broadcasts
        return cls(f=f, ow=4 if f == 16 else 8, c=8 if cin % 8 == 0 else cin)

    def padded_cout(self, cout: int) -> int:
        return round_up(cout, self.f)


class BlockedConv2d(nn.Module):
    """conv2d(x, weight, bias), stride 1, no padding, for inputs of shape ``in_shape`` = (batch, h, w),
    in the blocked form. NHWC in and out: callers pad in NHWC too, so that with the channels-last
    preset (which wraps the conv in NCHW <-> NHWC transposes) every transpose cancels and the conv
    is the NHWC one the tuning spec matches. Fewer than 8 output channels are padded to one vector
    (8x the FLOPs for ESPCN C-NN's one channel) only where 8 or more input channels make the
    conv compute-bound; with few of both the conv stays plain (see ``applies``)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, in_shape: tuple[int, int, int],
                 shuffle: int | None = None):
        super().__init__()
        self.cout, self.cin, self.kh, self.kw = weight.shape
        self.in_shape, self.shuffle = in_shape, shuffle
        self.tiles = ConvTiles.for_conv(self.cin, self.cout)
        fp = self.tiles.padded_cout(self.cout)
        # where each real channel sits among the fp padded ones; the rest are zero filters
        self.grid = phase_grid(self.cout // shuffle ** 2, shuffle, fp) if shuffle else None
        slots = self._slots(fp)
        self.register_buffer("weight", weight.new_zeros(fp, *weight.shape[1:]).index_copy(0, slots, weight))
        self.register_buffer("bias", None if bias is None else bias.new_zeros(fp).index_copy(0, slots, bias))

    def _slots(self, fp: int) -> torch.Tensor:
        if self.grid is None:
            return torch.arange(self.cout)
        r, (_, ra, rb) = self.shuffle, self.grid
        oc, a, b = torch.meshgrid(torch.arange(self.cout // r ** 2), torch.arange(r), torch.arange(r), indexing="ij")
        return (oc * ra * rb + a * rb + b).reshape(-1)          # pixel_shuffle's channel order, in the grid

    @property
    def conv_shape(self) -> tuple[int, int, int, int]:
        """(batch, rows, cols, channels) of the conv's output as IREE sees it."""
        b, h, w = self.in_shape
        oh, ow = h - self.kh + 1, w - self.kw + 1
        n = b if b > 1 else 2
        # batch 1: two entries without overlap, the kh - 1 output rows across their seam done apart
        rows = max(1, -(-(oh - self.seam) // 2)) if b == 1 else oh
        return n, rows, round_up(ow, self.tiles.cols), self.weight.shape[0]

    @property
    def seam(self) -> int:
        return self.kh - 1 if self.in_shape[0] == 1 else 0

    @staticmethod
    def applies(weight: torch.Tensor) -> bool:
        """Whether blocking pays. Measured here (2 threads, channels-last, retained malloc):
        ESPCN C-NN (32 -> 1) 183 -> 75 ms blocked to 8 lanes: IREE's own conv runs one channel at
        about 7 GFLOP/s, the blocked one 8x the FLOPs at about 145. The sweep's C-NN (3 -> 3) at
        1024 x 1024 goes 62 -> 106 ms: with 3 input channels per tap there is too little
        arithmetic to pay for padded output lanes."""
        cout, cin = weight.shape[:2]
        return cout >= 8 or cin >= 8

    def forward(self, xh):
        b, h, w, _ = xh.shape
        if (b, h, w) != tuple(self.in_shape):
            raise ValueError(f"blocked conv built for input {self.in_shape}, got {(b, h, w)}")
        n, rows, cols, fp = self.conv_shape
        oh, ow = h - self.kh + 1, w - self.kw + 1
        if b > 1:
            return self._out(self._conv(F.pad(xh, (0, 0, 0, cols - ow))), oh, ow)
        # batch 1: pad to 2 x (rows + kh - 1) input rows, a free reshape to 2 entries with no overlap;
        # the seam's kh - 1 output rows come from a small conv on the 2 (kh - 1) rows around it
        xh = F.pad(xh, (0, 0, 0, cols - ow, 0, 2 * (rows + self.kh - 1) - h))
        yh = self._conv(xh.reshape(2, rows + self.kh - 1, *xh.shape[2:]))
        seam = min(self.seam, oh - rows)                          # fewer on a tiny image
        pieces = [self._out(yh[:1], rows, ow)]
        if seam:
            pieces.append(self._out(self._conv(xh[:, rows:rows + seam + self.kh - 1]), seam, ow))
        if oh - rows - seam:
            pieces.append(self._out(yh[1:], oh - rows - seam, ow))
        return torch.cat(pieces, dim=1)

    def _conv(self, xh):
        return F.conv2d(xh.permute(0, 3, 1, 2), self.weight, self.bias).permute(0, 2, 3, 1)

    def _out(self, yh, oh: int, ow: int):
        """The first oh rows and ow columns of a conv output, padding sliced away, pixel-shuffled if asked."""
        b, _, cols, fp = yh.shape
        if not self.shuffle:
            return yh[:, :oh, :ow, :self.cout]
        r, c = self.shuffle, self.cout // self.shuffle ** 2
        if self.grid is None:
            y = yh[:, :oh, :ow, :self.cout].reshape(b, oh, ow, c, r, r)
        else:                                    # a free reshape, then one slice IREE fuses into the transpose
            y = yh.reshape(b, yh.shape[1], cols, *self.grid)[:, :oh, :ow, :c, :r, :r]
        return y.permute(0, 1, 4, 2, 5, 3).reshape(b, oh * r, ow * r, c)       # pixel shuffle, NHWC


def phase_grid(c: int, r: int, fp: int) -> tuple[int, int, int] | None:
    """(C', R, R') with C' >= c, R, R' >= r and C' * R * R' == fp, the least padded first; None if
    fp channels cannot hold the c * r * r phases as such a grid."""
    grids = [(cp, ra, fp // (cp * ra)) for cp in range(c, fp + 1) for ra in range(r, fp + 1)
             if fp % (cp * ra) == 0 and fp // (cp * ra) >= r]
    return min(grids, key=lambda g: (g[0] - c, g[1] - r, g[2] - r), default=None)


def tuning_spec(convs: list[BlockedConv2d]) -> str:
    """An IREE llvm-cpu tuning spec that finds each blocked conv by its exact NHWC operand types
    (as the channels-last preset produces it) and sets its tiles. Any other op is left to IREE."""
    matchers, names = [], []
    for i, conv in enumerate(convs):
        n, rows, cols, fp = conv.conv_shape
        t = conv.tiles
        x = f"tensor<{n}x{rows + conv.kh - 1}x{cols + conv.kw - 1}x{conv.cin}xf32>"
        k = f"tensor<{conv.kh}x{conv.kw}x{conv.cin}x{fp}xf32>"
        y = f"tensor<{n}x{rows}x{cols}x{fp}xf32>"
        names.append(f"@match_conv{i}")
        matchers.append(f"""  transform.named_sequence @match_conv{i}(%op: !transform.any_op {{transform.readonly}}) -> (!transform.any_op, !transform.any_param) {{
    transform.match.operation_name %op ["linalg.generic"] : !transform.any_op
    %x = transform.get_operand %op[0] : (!transform.any_op) -> !transform.any_value
    transform.iree.match.cast_compatible_type %x = {x} : !transform.any_value
    %k = transform.get_operand %op[1] : (!transform.any_op) -> !transform.any_value
    transform.iree.match.cast_compatible_type %k = {k} : !transform.any_value
    %y = transform.get_operand %op[2] : (!transform.any_op) -> !transform.any_value
    transform.iree.match.cast_compatible_type %y = {y} : !transform.any_value
    %cfg = transform.param.constant #iree_codegen.compilation_info<
      lowering_config = #iree_cpu.lowering_config<distribution = [1, {t.rows}, {t.cols}, {t.f}, 0, 0, 0],
        vector_common_parallel = [1, 1, {t.ow}, {t.f}, 0, 0, 0], vector_reduction = [0, 0, 0, 0, 1, 1, {t.c}]>,
      translation_info = #iree_codegen.translation_info<pipeline = #iree_cpu.pipeline<ConvTileAndDecomposeExpert>>>
      -> !transform.any_param
    transform.yield %op, %cfg : !transform.any_op, !transform.any_param
  }}""")
    pairs = ", ".join(f"{m} -> @apply" for m in names)
    return f"""module attributes {{transform.with_named_sequence, iree_codegen.tuning_spec_with_default_entrypoint}} {{
  transform.named_sequence @apply(%op: !transform.any_op {{transform.readonly}}, %cfg: !transform.any_param {{transform.readonly}}) {{
    transform.annotate %op "compilation_info" = %cfg : !transform.any_op, !transform.any_param
    transform.yield
  }}
{chr(10).join(matchers)}
  transform.named_sequence @__kernel_config(%v: !transform.any_op {{transform.consumed}}) -> !transform.any_op
      attributes {{iree_codegen.tuning_spec_entrypoint}} {{
    %r = transform.foreach_match in %v {pairs} : (!transform.any_op) -> !transform.any_op
    transform.yield %r : !transform.any_op
  }}
}}
"""
