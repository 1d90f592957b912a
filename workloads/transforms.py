"""Exact kernel transforms: a trained upsampling convolution -> an equivalent deconvolution.

Conventions (PyTorch): conv weight (C_out', C_in, K, K); deconv weight (C_in, C_out, Kd, Kd);
pixel shuffle in CRD order. A :class:`Deconv` is a transposed convolution of stride r whose
full output ((H-1)*r + Kd) is cropped by ``crop`` = (top, bottom, left, right), plus a bias that
may depend on the output pixel's phase (h % r, w % r) -- what sub-pixel conv biases become.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Deconv:
    weight: torch.Tensor                 # (C_in, C_out, Kd, Kd)
    stride: int
    crop: tuple[int, int, int, int]      # top, bottom, left, right; each in [0, Kd-1]
    bias: torch.Tensor | None = None     # (C_out, r, r): bias[oc, h % r, w % r]

    @property
    def kernel(self) -> int:
        return self.weight.shape[-1]

    @property
    def cin(self) -> int:
        return self.weight.shape[0]

    @property
    def cout(self) -> int:
        return self.weight.shape[1]

    @property
    def taps_per_phase(self) -> int:
        """T = ceil(Kd / r): kernel taps that reach one output phase along one axis."""
        return -(-self.kernel // self.stride)

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        ct, cb, cl, cr = self.crop
        return ((h - 1) * self.stride + self.kernel - ct - cb,
                (w - 1) * self.stride + self.kernel - cl - cr)

    def channel_bias(self) -> torch.Tensor | None:
        """The bias as one value per channel, or None when it truly depends on the phase."""
        if self.bias is None:
            return None
        flat = self.bias.reshape(self.cout, -1)
        return flat[:, 0].clone() if bool((flat == flat[:, :1]).all()) else None


def weight_shuffle(w_conv: torch.Tensor, r: int) -> torch.Tensor:
    """Sub-pixel conv weight (r^2*C_out, C_in, K, K) -> deconv weight (C_in, C_out, rK, rK).

    W_d[ic, oc, r*i + a, r*j + b] = W_c[r^2*oc + r*a + b, ic, K-1-i, K-1-j]  (CRD channel order).
    """
    rr_cout, cin, k, _ = w_conv.shape
    if rr_cout % (r * r):
        raise ValueError(f"weight_shuffle: {rr_cout} output channels is not a multiple of r^2 = {r * r}")
    cout = rr_cout // (r * r)
    w = w_conv.reshape(cout, r, r, cin, k, k).flip(4, 5)       # [oc, a, b, ic, i, j]
    return w.permute(3, 0, 4, 1, 5, 2).reshape(cin, cout, r * k, r * k).contiguous()


def bias_shuffle(b_conv: torch.Tensor, r: int) -> torch.Tensor:
    """Sub-pixel conv bias (r^2*C_out,) -> phase bias (C_out, r, r): B[oc, a, b] = b[r^2 oc + r a + b]."""
    return b_conv.reshape(-1, r, r).clone()


def weight_convolution(w_conv: torch.Tensor, r: int) -> torch.Tensor:
    """Nearest-resize conv weight (C_out, C_in, K, K) -> deconv weight (C_in, C_out, K+r-1, K+r-1).

    W_d[ic, oc] = rot180(W_c[oc, ic]) convolved ("full") with an r x r box of ones.
    """
    cout, cin, k, _ = w_conv.shape
    rot = w_conv.flip(2, 3).transpose(0, 1)
    w_d = w_conv.new_zeros(cin, cout, k + r - 1, k + r - 1)
    for i in range(r):
        for j in range(r):
            w_d[:, :, i:i + k, j:j + k] += rot
    return w_d


def subpixel_to_deconv(w_conv: torch.Tensor, b_conv: torch.Tensor | None, r: int,
                       pads: tuple[int, int, int, int]) -> Deconv:
    """C-SP (conv with ``pads`` to r^2*C_out channels, then pixel shuffle) -> D-SP, exactly.

    Crop = r*(K-1-pad_begin) before and r*(K-1-pad_end) after: for same padding that is the
    familiar deconv padding r*P; for asymmetric pads the two sides swap. Crops are multiples
    of r, so the phase of an output pixel (and with it the shuffled bias) is preserved.
    """
    k = w_conv.shape[-1]
    crop = tuple(r * (k - 1 - p) for p in pads)
    bias = bias_shuffle(b_conv, r) if b_conv is not None else None
    return Deconv(weight_shuffle(w_conv, r), r, crop, bias)


def resize_to_deconv(w_conv: torch.Tensor, b_conv: torch.Tensor | None, r: int,
                     pads: tuple[int, int, int, int]) -> Deconv:
    """C-NN (nearest upsample by r, then conv with ``pads``) -> D-NN, exactly; bias carried."""
    k = w_conv.shape[-1]
    crop = tuple(k - 1 - p for p in pads)
    bias = None
    if b_conv is not None:
        bias = b_conv.reshape(-1, 1, 1).expand(-1, r, r).clone()
    return Deconv(weight_convolution(w_conv, r), r, crop, bias)
