"""Upsampling methods as trained (C-SP, C-NN, C-BL), their seeded weights, and their deployed
deconvolutions (D-SP, D-NN).

Weights and inputs come from a seed and the layer id through a stable hash, so every run, machine
and process sees the same numbers.
"""
from __future__ import annotations

import hashlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from workloads.blocked_conv import BlockedConv2d, tuning_spec
from workloads.layer import LayerConfig
from workloads.transforms import Deconv, resize_to_deconv, subpixel_to_deconv

TRAINED = ("C-SP", "C-NN", "C-BL")
DEPLOYED = {"D-SP": "C-SP", "D-NN": "C-NN"}     # deployed method -> the trained method it replaces
METHODS = TRAINED + tuple(DEPLOYED)

DESCRIPTIONS = {
    "C-SP": "sub-pixel convolution: conv to r^2*C_out channels at low resolution, then pixel shuffle",
    "C-NN": "nearest-neighbour resize convolution: upsample by r, then conv at high resolution",
    "C-BL": "bilinear resize convolution (reference only: no exact deconvolution at the borders)",
    "D-SP": "deconvolution from C-SP by weight shuffle (Kd = rK, stride r, phase-dependent bias)",
    "D-NN": "deconvolution from C-NN by weight convolution (Kd = K+r-1, stride r)",
}


def generator(seed: int, *parts: str) -> torch.Generator:
    digest = hashlib.sha256("/".join([str(seed), *parts]).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little"))


def make_input(layer: LayerConfig, seed: int) -> torch.Tensor:
    g = generator(seed, layer.data_id, "input")
    return torch.randn(layer.batch, layer.cin, layer.h, layer.w, generator=g)


def trained_weights(layer: LayerConfig, method: str, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """PyTorch's default Conv2d init (uniform +-1/sqrt(fan_in)), drawn from the seed."""
    cout = layer.r * layer.r * layer.cout if method == "C-SP" else layer.cout
    bound = 1.0 / math.sqrt(layer.cin * layer.k * layer.k)
    g = generator(seed, layer.data_id, method, "weights")
    w = (torch.rand(cout, layer.cin, layer.k, layer.k, generator=g) * 2 - 1) * bound
    b = (torch.rand(cout, generator=g) * 2 - 1) * bound if layer.bias else None
    return w, b


class TrainedLayer(nn.Module):
    """The layer as trained: C-SP, C-NN or C-BL, with frozen weights."""

    def __init__(self, layer: LayerConfig, method: str, weight: torch.Tensor, bias: torch.Tensor | None,
                 blocked: bool = False):
        super().__init__()
        if method not in TRAINED:
            raise ValueError(f"not a trained method: {method}")
        self.method, self.r, self.pads = method, layer.r, layer.pads
        self.register_buffer("weight", weight)
        self.register_buffer("bias", bias)
        self.blocked = None
        if blocked and BlockedConv2d.applies(weight):   # the conv blocked, for its padded input
            t, b, l, r_ = layer.pads
            scale = 1 if method == "C-SP" else layer.r
            self.blocked = BlockedConv2d(weight, bias, (layer.batch, scale * layer.h + t + b, scale * layer.w + l + r_),
                                         shuffle=layer.r if method == "C-SP" else None)

    def tuning_spec(self) -> str | None:
        return tuning_spec([self.blocked]) if self.blocked is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method == "C-NN":
            x = F.interpolate(x, scale_factor=self.r, mode="nearest")
        elif self.method == "C-BL":
            x = F.interpolate(x, scale_factor=self.r, mode="bilinear", align_corners=False)
        if self.blocked is not None:                    # the blocked conv does C-SP's pixel shuffle itself
            t, b, l, r_ = self.pads
            return self.blocked(F.pad(x.permute(0, 2, 3, 1), (0, 0, l, r_, t, b))).permute(0, 3, 1, 2)
        y = conv2d_padded(x, self.weight, self.bias, self.pads)
        return F.pixel_shuffle(y, self.r) if self.method == "C-SP" else y


def conv2d_padded(x, weight, bias, pads):
    """Stride-1 conv with (top, bottom, left, right) padding; symmetric pads stay inside the conv."""
    t, b, l, r = pads
    if t == b and l == r:
        return F.conv2d(x, weight, bias, padding=(t, l))
    return F.conv2d(F.pad(x, (l, r, t, b)), weight, bias)


def trained_layer(layer: LayerConfig, method: str, seed: int, blocked: bool = False) -> TrainedLayer:
    w, b = trained_weights(layer, method, seed)
    return TrainedLayer(layer, method, w, b, blocked)


def deployed_deconv(layer: LayerConfig, method: str, seed: int) -> Deconv:
    """The deconvolution that replaces ``DEPLOYED[method]``, from that layer's own weights."""
    trained = DEPLOYED[method]
    w, b = trained_weights(layer, trained, seed)
    if method == "D-SP":
        return subpixel_to_deconv(w, b, layer.r, layer.pads)
    return resize_to_deconv(w, b, layer.r, layer.pads)
