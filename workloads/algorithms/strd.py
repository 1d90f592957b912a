"""STRD: fractionally strided convolution -- real zero insertion, then a dense stride-1 conv.

MLIR: a zero tensor of size (H-1)*r+1, a strided slice_scatter of the input into it (the
inserted zeros are really written), a pad, and linalg.conv_2d_nchw_fchw with the flipped,
channel-transposed kernel. IREE runs the conv over all of the zeros: about r^2 times the MACs
of the other algorithms, most of them multiplying zeros.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 5 dispatches, the zero tensor and its scatter really
materialised, then conv_3x256x256x3x6x6.
"""
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import Bias
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry, Traffic, rw


class Strd(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int):
        super().__init__()
        self.d = d
        self.register_buffer("weight", d.weight.flip(2, 3).transpose(0, 1).contiguous())
        self.bias = Bias(d)

    def forward(self, x):
        d, r, k = self.d, self.d.stride, self.d.kernel
        n, c, h, w = x.shape
        z = x.new_zeros(n, c, (h - 1) * r + 1, (w - 1) * r + 1)
        z[:, :, ::r, ::r] = x
        ct, cb, cl, cr = d.crop
        z = F.pad(z, (k - 1 - cl, k - 1 - cr, k - 1 - ct, k - 1 - cb))
        return self.bias(F.conv2d(z, self.weight))


def counts(g: DeconvGeometry, note: str = "") -> Counts:
    """Dense conv over the zero-inserted image: Kd^2 MACs per output pixel, zeros included; the
    paper charges the image's read but not its building."""
    lay, r = g.layer, g.layer.r
    hz, wz = (lay.h - 1) * r + 1, (lay.w - 1) * r + 1
    return Counts(lay.batch * lay.cin * lay.cout * g.kd * g.kd * g.oh * g.ow, (
        Traffic("input", "input", "read", lay.batch * lay.cin * lay.h * lay.w, False),
        *rw("zero-inserted image", "intermediate", lay.batch * lay.cin * hz * wz, paper_read=True, paper_write=False),
        g.weights, g.output), g.size, note, lanes=lay.cout)
