"""Index arithmetic shared by the deconvolution algorithms.

Two coordinate systems appear. *Full* coordinates u index the uncropped deconvolution output,
u = r*q + a; there tap kh = r*j + a reads input row q - j. *Cropped* coordinates oh = u - crop_top
index the layer's real output; writing oh = r*q + a, the output reads input rows q + s_a - j with
taps kh = r*j + p_a, where s_a, p_a = divmod(a + crop_top, r) (upsampling.md, section 5).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from workloads.counts import ceil_div  # noqa: F401 - re-exported for the algorithm modules
from workloads.transforms import Deconv


@dataclass(frozen=True)
class AxisPhases:
    """Per-axis phase tables in cropped coordinates."""
    out: int                 # output length along this axis
    q: int                   # ceil(out / r): low-resolution rows per phase
    shift: tuple[int, ...]   # s_a for each phase a
    tap: tuple[int, ...]     # p_a for each phase a
    pad_before: int          # input zero padding so every read q + s_a - j is in range
    pad_after: int

    @classmethod
    def of(cls, size_in: int, out: int, crop_begin: int, r: int, taps: int) -> "AxisPhases":
        q = ceil_div(out, r)
        shift, tap = zip(*(divmod(a + crop_begin, r) for a in range(r)))
        before = max(0, taps - 1 - min(shift))
        after = max(0, q - 1 + max(shift) - (size_in - 1))
        return cls(out, q, shift, tap, before, after)


def phases(d: Deconv, h: int, w: int) -> tuple[AxisPhases, AxisPhases]:
    oh, ow = d.out_hw(h, w)
    t = d.taps_per_phase
    return (AxisPhases.of(h, oh, d.crop[0], d.stride, t), AxisPhases.of(w, ow, d.crop[2], d.stride, t))


def phase_weights(d: Deconv, ph: AxisPhases, pw: AxisPhases) -> torch.Tensor:
    """W2[oc, ic, a, b, j, i] = W[ic, oc, r*j + p_a, r*i + p_b], zero past the kernel's edge."""
    r, t, k = d.stride, d.taps_per_phase, d.kernel
    wpad = F.pad(d.weight, (0, r * t - k, 0, r * t - k))           # (Ci, Co, r*t, r*t)
    w6 = wpad.reshape(d.cin, d.cout, t, r, t, r)                    # [ic, oc, j, phase_h, i, phase_w]
    rows = w6[:, :, :, list(ph.tap), :, :]                          # phase index -> p_a
    both = rows[:, :, :, :, :, list(pw.tap)]                        # [ic, oc, j, a, i, b]
    return both.permute(1, 0, 3, 5, 2, 4).contiguous()


def full_grid_weights(d: Deconv) -> torch.Tensor:
    """Kernel zero-padded to r*T and split as [ic, oc, j, a, i, b] (tap kh = r*j + a)."""
    r, t, k = d.stride, d.taps_per_phase, d.kernel
    wpad = F.pad(d.weight, (0, r * t - k, 0, r * t - k))
    return wpad.reshape(d.cin, d.cout, t, r, t, r)


class Bias(nn.Module):
    """The deconvolution's bias, added per channel when uniform, else per output phase.

    Which of the two is decided here, once, from the weights: inside ``forward`` a decision on
    tensor values would be data-dependent control flow that torch.export refuses.
    """

    def __init__(self, d: Deconv):
        super().__init__()
        self.r = d.stride
        cb = d.channel_bias()
        self.per_phase = d.bias is not None and cb is None
        self.register_buffer("value", d.bias if self.per_phase else cb)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if self.value is None:
            return y
        if not self.per_phase:
            return y + self.value.reshape(1, -1, 1, 1)
        n, c, oh, ow = y.shape
        r = self.r
        assert oh % r == 0 and ow % r == 0, "a phase-dependent bias needs an output that is a multiple of r"
        y6 = y.reshape(n, c, oh // r, r, ow // r, r) + self.value.reshape(1, c, 1, r, 1, r)
        return y6.reshape(n, c, oh, ow)


def crop_full(y: torch.Tensor, d: Deconv, oh: int, ow: int, top: int | None = None,
              left: int | None = None) -> torch.Tensor:
    top = d.crop[0] if top is None else top
    left = d.crop[2] if left is None else left
    return y[:, :, top:top + oh, left:left + ow]
