"""TDCF: TDC with its r^2 phase convolutions fused into one -- a single stride-1 convolution at the
input's resolution with r^2 * C_out output channels, then a pixel shuffle (the sub-pixel form).

Every phase reads the same input window once the phases' different row/column shifts are absorbed
into the kernel: phase (a, b)'s T x T sub-kernel sits at offset (s_a - min s, s_b - min s) in a
T' x T' kernel (T' = T + max s - min s), the rest zero taps. Where all shifts are equal (every D-SP,
and D-NN when r divides the padding right) T' = T and no MAC is added; otherwise T' = T + 1, e.g.
9 instead of 4 taps for the sweep's D-NN (r 2/3/4, T 2) -- the price of one dispatch instead of r^2.
The per-phase bias becomes a per-channel bias of the fused convolution, so it stays exact.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP or D-NN): 3 dispatches, against TDC's 12 -- the padded input
copy, conv_12x128x128x3x3x3, and the pixel-shuffle transpose; with the channels-last preset the
copy becomes the NCHW -> NHWC transpose and the conv runs as conv_128x128x12x3x3x3 (NHWC).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from workloads.blocked_conv import BlockedConv2d, tuning_spec
from workloads.algorithms.common import phase_weights, phases
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry, Traffic, rw


def fused_taps(d: Deconv, h: int, w: int) -> tuple[int, int]:
    """T' per axis: the phases' taps once their shifts are folded into one kernel."""
    ph, pw = phases(d, h, w)
    t = d.taps_per_phase
    return t + max(ph.shift) - min(ph.shift), t + max(pw.shift) - min(pw.shift)


class TdcFused(nn.Module):
    """``batch`` given: the conv in the blocked form (workloads/aligned.py), for that batch."""

    def __init__(self, d: Deconv, h: int, w: int, batch: int | None = None):
        super().__init__()
        self.d = d
        self.ph, self.pw = ph, pw = phases(d, h, w)
        r, t = d.stride, d.taps_per_phase
        self.th, self.tw = fused_taps(d, h, w)
        sub = phase_weights(d, ph, pw).flip(4, 5)                  # [oc, ic, a, b, i, j], correlation order
        big = torch.zeros(d.cout, r, r, d.cin, self.th, self.tw, dtype=sub.dtype)
        for a in range(r):
            for b in range(r):
                oa, ob = ph.shift[a] - min(ph.shift), pw.shift[b] - min(pw.shift)
                big[:, a, b, :, oa:oa + t, ob:ob + t] = sub[:, :, a, b]
        # channel oc*r^2 + a*r + b is phase (a, b) of output channel oc: pixel_shuffle's order
        self.register_buffer("weight", big.reshape(d.cout * r * r, d.cin, self.th, self.tw))
        self.register_buffer("bias", None if d.bias is None else d.bias.reshape(-1).clone())
        self.blocked = None if batch is None or not BlockedConv2d.applies(self.weight) else BlockedConv2d(
            self.weight, self.bias, (batch, ph.q + self.th - 1, pw.q + self.tw - 1), shuffle=r)

    def tuning_spec(self) -> str | None:
        return tuning_spec([self.blocked]) if self.blocked is not None else None

    def forward(self, x):
        r, t, ph, pw = self.d.stride, self.d.taps_per_phase, self.ph, self.pw
        top = min(ph.shift) - (t - 1) + ph.pad_before
        left = min(pw.shift) - (t - 1) + pw.pad_before
        rows, cols = slice(top, top + ph.q + self.th - 1), slice(left, left + pw.q + self.tw - 1)
        pads = (pw.pad_before, pw.pad_after, ph.pad_before, ph.pad_after)
        if self.blocked is not None:           # pad, conv and shuffle in NHWC: see workloads/blocked_conv.py
            xh = F.pad(x.permute(0, 2, 3, 1), (0, 0, *pads))[:, rows, cols]
            y = self.blocked(xh).permute(0, 3, 1, 2)
        else:
            y = F.pixel_shuffle(F.conv2d(F.pad(x, pads)[:, :, rows, cols], self.weight, self.bias), r)
        return y[:, :, :ph.out, :pw.out]


def counts(g: DeconvGeometry) -> Counts:
    lay, r, k = g.layer, g.layer.r, g.layer.k
    n, ci, co = lay.batch, lay.cin, lay.cout
    top, _, left, _ = lay.pads
    crop = (r * (k - 1 - top), r * (k - 1 - left)) if g.method == "D-SP" else (k - 1 - top, k - 1 - left)
    th, tw = (g.t + (r - 1 + c) // r - c // r for c in crop)      # T' = T + max shift - min shift
    return Counts(n * ci * co * th * tw * r * r * g.hq * g.wq, (
        g.input, Traffic("weights", "weights", "read", ci * co * th * tw * r * r, True),
        *rw("fused conv output (before pixel shuffle)", "intermediate", n * co * r * r * g.hq * g.wq, False, False),
        g.output), g.size, "MACs include the zero taps that align the phases' shifts; the conv output is TDC's "
                           "sub-outputs, not charged by the paper", lanes=r * r * co)
