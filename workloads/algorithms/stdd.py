"""STDD: standard (input-stationary) deconvolution -- multiply, then scatter-accumulate.

MLIR: one 1x1 convolution (a matmul) multiplies every input pixel by the whole kernel, materialising all Kd^2
partial products (the "col" buffer, Kd^2 * C_out * H * W values); then T^2 = ceil(Kd/r)^2
strided slice-adds (tensor.insert_slice of an add) accumulate them into overlapping windows of
the full output: the overlapping partial sums are really read, modified and written. The kernel
is zero-padded to a multiple of r (extra MACs when r does not divide Kd, e.g. D-NN).
IREE 3.13 does not lower aten.col2im (fold), so the scatter is spelled out as slice updates.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 25 dispatches -- matmul_like_108x16384x3 for the
partial products, then one transpose-and-accumulate dispatch per tap group; 10 MB transient.
"""
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import Bias, crop_full, full_grid_weights
from workloads.transforms import Deconv


class Stdd(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d, self.out, self.bias = d, d.out_hw(h, w), Bias(d)
        g = full_grid_weights(d)                                    # [ic, oc, j, a, i, b]
        # every tap as a 1x1 conv output channel: (C_out*T*r*T*r, C_in, 1, 1)
        self.register_buffer("wcols", g.reshape(d.cin, -1).t().reshape(-1, d.cin, 1, 1).contiguous())

    def forward(self, x):
        d, r, t = self.d, self.d.stride, self.d.taps_per_phase
        n, c, h, w = x.shape
        co = d.cout
        cols = F.conv2d(x, self.wcols).reshape(n, co, t, r, t, r, h, w)
        out = x.new_zeros(n, co, h + t - 1, r, w + t - 1, r)
        for j in range(t):
            for i in range(t):
                out[:, :, j:j + h, :, i:i + w, :] += cols[:, :, j, :, i, :, :, :].permute(0, 1, 4, 2, 5, 3)
        full = out.reshape(n, co, (h + t - 1) * r, (w + t - 1) * r)
        return self.bias(crop_full(full, d, *self.out))
