"""TDC: transforming deconvolution to convolution -- r^2 low-resolution convs, then interleave.

MLIR: r^2 independent linalg convs (stride 1, at the input's resolution), each with its own
T x T sub-kernel (T = ceil(Kd/r), zero taps where r does not divide Kd) and its own bias (which
is how the phase-dependent sub-pixel bias stays exact), then a stack + transpose that interleaves
the phase outputs into the high-resolution image (a pixel shuffle).
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 12 dispatches -- per phase a slice copy and a
conv_3x128x128x3x3x3, then transpose_384x128x2x2 for the interleave.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import phase_weights, phases
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry, Traffic, rw


class Tdc(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d = d
        self.ph, self.pw = phases(d, h, w)
        w2 = phase_weights(d, self.ph, self.pw)                     # [oc, ic, a, b, j, i]
        # conv2d correlates, the deconvolution reads input q + s - j: flip the taps
        self.register_buffer("subkernels", w2.flip(4, 5).permute(2, 3, 0, 1, 4, 5).contiguous())
        self.register_buffer("bias", d.bias)

    def forward(self, x):
        r, t, ph, pw = self.d.stride, self.d.taps_per_phase, self.ph, self.pw
        xp = F.pad(x, (pw.pad_before, pw.pad_after, ph.pad_before, ph.pad_after))
        rows = []
        for a in range(r):
            row = []
            top = ph.shift[a] - (t - 1) + ph.pad_before
            for b in range(r):
                left = pw.shift[b] - (t - 1) + pw.pad_before
                xs = xp[:, :, top:top + ph.q + t - 1, left:left + pw.q + t - 1]
                bias = self.bias[:, a, b] if self.bias is not None else None
                row.append(F.conv2d(xs, self.subkernels[a, b], bias))
            rows.append(torch.stack(row, dim=-1))                   # (N, Co, Q, P, r_b)
        y = torch.stack(rows, dim=-2)                               # (N, Co, Q, P, r_a, r_b)
        n, co = y.shape[:2]
        y = y.permute(0, 1, 2, 4, 3, 5).reshape(n, co, ph.q * r, pw.q * r)
        return y[:, :, :ph.out, :pw.out]


def counts(g: DeconvGeometry) -> Counts:
    lay, r = g.layer, g.layer.r
    n, ci, co = lay.batch, lay.cin, lay.cout
    subkernels = Traffic("weights", "weights", "read", ci * co * g.t * g.t * r * r, True)
    return Counts(n * ci * co * g.t * g.t * r * r * g.hq * g.wq, (
        g.input, subkernels, *rw("phase sub-outputs", "intermediate", n * co * r * r * g.hq * g.wq, False, False),
        g.output), g.size, "the sub-outputs are not charged by the paper (interleave folded into addressing)",
        lanes=co)                                                   # r^2 convs to C_out each
