"""STDD: standard (input-stationary) deconvolution -- multiply, then scatter-accumulate.

MLIR: one matmul multiplies every input pixel by the whole kernel, materialising all Kd^2
partial products (the "col" buffer, Kd^2 * C_out * H * W values); then T^2 = ceil(Kd/r)^2
strided slice-adds (tensor.insert_slice of an add) accumulate them into overlapping windows of
the full output: the overlapping partial sums are really read, modified and written. The kernel
is zero-padded to a multiple of r (extra MACs when r does not divide Kd, e.g. D-NN).
IREE 3.13 does not lower aten.col2im (fold), so the scatter is spelled out as slice updates.
"""
import torch.nn as nn

from workloads.algorithms.common import add_bias, crop_full, full_grid_weights
from workloads.transforms import Deconv


class Stdd(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d, self.out = d, d.out_hw(h, w)
        g = full_grid_weights(d)                                    # [ic, oc, j, a, i, b]
        self.register_buffer("wmat", g.reshape(d.cin, -1).contiguous())

    def forward(self, x):
        d, r, t = self.d, self.d.stride, self.d.taps_per_phase
        n, c, h, w = x.shape
        co = d.cout
        cols = (x.permute(0, 2, 3, 1).reshape(n * h * w, c) @ self.wmat).reshape(n, h, w, co, t, r, t, r)
        out = x.new_zeros(n, co, h + t - 1, r, w + t - 1, r)
        for j in range(t):
            for i in range(t):
                out[:, :, j:j + h, :, i:i + w, :] += cols[:, :, :, :, j, :, i, :].permute(0, 3, 1, 4, 2, 5)
        full = out.reshape(n, co, (h + t - 1) * r, (w + t - 1) * r)
        return add_bias(crop_full(full, d, *self.out), d)
