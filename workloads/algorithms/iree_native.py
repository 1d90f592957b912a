"""IREE: the transposed convolution as one op, lowered the way IREE itself chooses.

MLIR: torch.aten.convolution(transposed=true), which torch-mlir turns into zero insertion
(an insert_slice into a zero tensor of the dilated size) and a stride-1 linalg conv with the
flipped kernel; so IREE's own lowering of a deconvolution is STRD-like.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 3 dispatches -- a copy, conv_3x256x256x3x6x6 at high
resolution over the inserted zeros, and the phase-bias add.
"""
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import Bias, crop_full
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry


class IreeNative(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d, self.out = d, d.out_hw(h, w)
        self.register_buffer("weight", d.weight)
        self.bias = Bias(d)
        ct, cb_, cl, cr = d.crop
        self.symmetric = ct == cb_ and cl == cr

    def forward(self, x):
        d = self.d
        if self.symmetric:
            y = F.conv_transpose2d(x, self.weight, stride=d.stride, padding=(d.crop[0], d.crop[2]))
        else:
            y = crop_full(F.conv_transpose2d(x, self.weight, stride=d.stride), d, *self.out)
        return self.bias(y)


def counts(g: DeconvGeometry) -> Counts:
    from workloads.algorithms.strd import counts as strd_counts
    return strd_counts(g, "IREE's own lowering (torch-mlir: zero insertion + conv) is modelled as STRD")
