"""STDD: standard (input-stationary) deconvolution -- multiply, then scatter-accumulate.

MLIR: per tap group (j, i) -- taps kh = r*j + a, kw = r*i + b for every phase (a, b) -- one 1x1
convolution (a matmul) multiplies every input pixel by the group's r^2 * C_out taps, and a strided
slice-add (tensor.insert_slice of an add) scatters those partial products into the window of the
output they reach, shifted by (j, i): the overlapping partial sums are really read, modified and
written, T^2 = ceil(Kd/r)^2 times. Only one group's partial products (r^2 * C_out * H * W values)
exist at a time; an earlier form made all Kd^2 of them in one matmul first (the "col" buffer),
which held 3.2x the transient memory and ran up to 2.6x slower on the sweep. The kernel is
zero-padded to a multiple of r (extra MACs when r does not divide Kd, e.g. D-NN).
IREE 3.13 does not lower aten.col2im (fold), so the scatter is spelled out as slice updates.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 24 dispatches (per group a matmul_like and its
transpose-and-accumulate), 3.2 MB transient against 10.3 MB for the col-buffer form.
"""
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import Bias, crop_full, full_grid_weights
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry


class Stdd(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d, self.out, self.bias = d, d.out_hw(h, w), Bias(d)
        r, t = d.stride, d.taps_per_phase
        g = full_grid_weights(d)                                    # [ic, oc, j, a, i, b]
        # per tap group (j, i): its r^2 taps as a 1x1 conv, (C_out*r*r, C_in, 1, 1)
        taps = g.permute(2, 4, 1, 3, 5, 0).reshape(t, t, d.cout * r * r, d.cin, 1, 1)
        self.register_buffer("wtaps", taps.contiguous())

    def forward(self, x):
        d, r, t = self.d, self.d.stride, self.d.taps_per_phase
        n, c, h, w = x.shape
        co = d.cout
        out = x.new_zeros(n, co, h + t - 1, r, w + t - 1, r)
        for j in range(t):
            for i in range(t):
                part = F.conv2d(x, self.wtaps[j, i]).reshape(n, co, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
                out[:, :, j:j + h, :, i:i + w, :] += part
        full = out.reshape(n, co, (h + t - 1) * r, (w + t - 1) * r)
        return self.bias(crop_full(full, d, *self.out))


def counts(g: DeconvGeometry) -> Counts:
    lay = g.layer
    return Counts(lay.batch * lay.cin * lay.cout * g.kd * g.kd * lay.h * lay.w, (g.input, g.weights, g.output), g.size,
                  "overlapping partial sums are not charged (as in the paper)",
                  lanes=lay.r * lay.r * lay.cout, rate="tap")      # per tap group REVD's tap matmul
