"""REVD: reverse-looping deconvolution -- per tap, gather inputs for the output pixels it reaches.

MLIR: T^2 iterations, one per tap group (j, i) (taps kh = r*j + a for every phase a): read the
input shifted by (-j, -i), multiply by the group's r^2 taps (a 1x1 conv over C_in), and add the
result into the output's phase lattice. The output accumulator is read and written T^2 times
(REVD's tap loops sit outside its output loops); stride holes are skipped because each tap only
feeds its own phase. Only the output rows the crop keeps (rounded out to whole phases) are computed.
IREE 3.13 on llvm-cpu (sweep-r2, D-SP): 10 dispatches; each tap group's 1x1 conv fuses with its
accumulation into one matmul_like_3x128x2x128x2x3 dispatch.

Form "cols8" (``FORMS``; the tuner tries it as a candidate where it changes the module): the phase
grid's columns rounded up to a multiple of 8, the extra columns computed and cropped away. IREE
tiles the grid's columns by a divisor of their count: at sweep-r2's D-NN 129 columns (3 x 43) get
a 3-column vector tile, and its last tap dispatch, which also sums the partial products, took
0.40 ms of the call's 0.62 (docs/model-notes.md). At 136 columns the call ran 1.4-1.8x faster on
the sweep's D-NN and 1.6x on ESPCN's, but 1.3x slower on ESPCN's D-SP (481 -> 488 columns), so
it is searched, not imposed.
"""
import torch.nn as nn
import torch.nn.functional as F

from workloads.algorithms.common import Bias, ceil_div, full_grid_weights
from workloads.transforms import Deconv
from workloads.counts import Counts, DeconvGeometry


FORMS = {"cols8": 8}                    # form -> the multiple the phase grid's columns are rounded up to


def phase_columns(d: Deconv, w: int) -> int:
    """The phase grid's columns: the crop's output columns rounded out to whole phases."""
    ow = d.out_hw(1, w)[1]
    return ceil_div(d.crop[2] + ow, d.stride) - d.crop[2] // d.stride


def forms(d: Deconv, h: int, w: int) -> tuple[str, ...]:
    """The forms that change this layer's module (a grid already a multiple of 8 is left as it is)."""
    return tuple(f for f, m in FORMS.items() if phase_columns(d, w) % m)


class Revd(nn.Module):
    def __init__(self, d: Deconv, h: int, w: int, form: str = ""):
        super().__init__()
        self.d, (self.oh, self.ow), self.bias = d, d.out_hw(h, w), Bias(d)
        r, t = d.stride, d.taps_per_phase
        g = full_grid_weights(d)                                    # [ic, oc, j, a, i, b]
        # per tap group (j, i): its r^2 taps as a 1x1 conv, (C_out*r*r, C_in, 1, 1)
        taps = g.permute(2, 4, 1, 3, 5, 0).reshape(t, t, d.cout * r * r, d.cin, 1, 1)
        self.register_buffer("wtaps", taps.contiguous())
        self.q0, self.p0 = d.crop[0] // r, d.crop[2] // r
        self.q1, self.p1 = ceil_div(d.crop[0] + self.oh, r), ceil_div(d.crop[2] + self.ow, r)
        if form:
            self.p1 = self.p0 + ceil_div(self.p1 - self.p0, FORMS[form]) * FORMS[form]
        self.pad = (t - 1, max(0, self.p1 - w), t - 1, max(0, self.q1 - h))

    def forward(self, x):
        d, r, t = self.d, self.d.stride, self.d.taps_per_phase
        n = x.shape[0]
        co = d.cout
        xp = F.pad(x, self.pad)
        qn, pn = self.q1 - self.q0, self.p1 - self.p0
        out = None
        for j in range(t):
            for i in range(t):
                rows = self.q0 - j + t - 1
                cols = self.p0 - i + t - 1
                xs = xp[:, :, rows:rows + qn, cols:cols + pn]
                contrib = F.conv2d(xs, self.wtaps[j, i]).reshape(n, co, r, r, qn, pn).permute(0, 1, 4, 2, 5, 3)
                out = contrib if out is None else out + contrib
        full = out.reshape(n, co, qn * r, pn * r)
        top, left = d.crop[0] - r * self.q0, d.crop[2] - r * self.p0
        return self.bias(full[:, :, top:top + self.oh, left:left + self.ow])


def counts(g: DeconvGeometry) -> Counts:
    lay = g.layer
    # the algorithm's MACs over the output's own lattice: the columns a form adds are not counted
    # per tap group a 1x1 conv to r^2*C_out, the phases innermost: IREE's vector tiles fill far fewer
    # lanes than those channels would, so the model charges it at the calibrated tap matmul's rate
    return Counts(lay.batch * lay.cin * lay.cout * g.kd * g.kd * g.hq * g.wq, (g.input, g.weights, g.output), g.size,
                  lanes=lay.r * lay.r * lay.cout, rate="tap")
