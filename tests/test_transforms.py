"""The kernel transforms are exact: the deployed deconvolution reproduces the trained layer."""
import random

import pytest
import torch
import torch.nn.functional as F

from workloads.algorithms.common import Bias
from workloads.layer import LayerConfig
from workloads.methods import DEPLOYED, deployed_deconv, make_input, trained_layer, trained_weights
from workloads.transforms import (bias_shuffle, resize_to_deconv, subpixel_to_deconv, weight_convolution,
                                  weight_shuffle)


def test_weight_shuffle_worked_example():
    # upsampling.md 4.1: r = 2, K = 3, C_in = C_out = 1, conv weight W_c[n, 0, i, j] = 10n + 3i + j
    wc = torch.tensor([[[[10 * n + 3 * i + j for j in range(3)] for i in range(3)]] for n in range(4)],
                      dtype=torch.float64)
    expected = torch.tensor([[8, 18, 7, 17, 6, 16], [28, 38, 27, 37, 26, 36], [5, 15, 4, 14, 3, 13],
                             [25, 35, 24, 34, 23, 33], [2, 12, 1, 11, 0, 10], [22, 32, 21, 31, 20, 30]],
                            dtype=torch.float64)
    assert torch.equal(weight_shuffle(wc, 2)[0, 0], expected)


def test_weight_convolution_worked_example():
    # upsampling.md 4.2: r = 2, K = 3, W_c = [[1,2,3],[4,5,6],[7,8,9]]
    wc = torch.arange(1, 10, dtype=torch.float64).reshape(1, 1, 3, 3)
    expected = torch.tensor([[9, 17, 15, 7], [15, 28, 24, 11], [9, 16, 12, 5], [3, 5, 3, 1]], dtype=torch.float64)
    assert torch.equal(weight_convolution(wc, 2)[0, 0], expected)


def test_bias_shuffle_is_the_pixel_shuffle_of_the_bias():
    b = torch.arange(2 * 9, dtype=torch.float64)
    shuffled = F.pixel_shuffle(b.reshape(1, -1, 1, 1), 3)[0]        # (C_out, r, r)
    assert torch.equal(bias_shuffle(b, 3), shuffled)


def random_layers(n, seed=0, max_k=6, max_r=4):
    rng = random.Random(seed)
    for _ in range(n):
        k, r = rng.randint(1, max_k), rng.randint(1, max_r)
        pad = tuple(rng.randint(0, k - 1) for _ in range(4)) if rng.random() < 0.6 else None
        yield LayerConfig(cin=rng.randint(1, 4), cout=rng.randint(1, 4), h=rng.randint(k, k + 6),
                          w=rng.randint(k, k + 6), k=k, r=r, batch=rng.randint(1, 3), pad=pad,
                          bias=rng.random() < 0.8)


def deconv_f64(layer, deployed, seed=0):
    """The deployed deconvolution computed in float64 through the public transform API."""
    w, b = trained_weights(layer, DEPLOYED[deployed], seed)
    transform = subpixel_to_deconv if deployed == "D-SP" else resize_to_deconv
    return transform(w.double(), None if b is None else b.double(), layer.r, layer.pads)


def conv_transpose_reference(x, d):
    """torch's own conv_transpose2d, cropped, plus the (possibly phase-dependent) bias."""
    y = F.conv_transpose2d(x, d.weight.to(x.dtype), stride=d.stride)
    ct, cb, cl, cr = d.crop
    y = y[:, :, ct:y.shape[2] - cb, cl:y.shape[3] - cr]
    return Bias(d).to(x.dtype)(y)


@pytest.mark.parametrize("layer", list(random_layers(150)), ids=lambda L: L.id)
def test_deployed_deconvolution_equals_trained_layer(layer):
    x = make_input(layer, 0).double()
    for deployed, trained in DEPLOYED.items():
        ref = trained_layer(layer, trained, 0).double()(x)
        y = conv_transpose_reference(x, deconv_f64(layer, deployed))
        assert y.shape == ref.shape
        torch.testing.assert_close(y, ref, rtol=0, atol=1e-10)


def test_phase_bias_really_depends_on_the_phase():
    layer = LayerConfig(cin=2, cout=2, h=5, w=5, k=3, r=2)
    d = deployed_deconv(layer, "D-SP", 0)
    assert d.bias.shape == (2, 2, 2) and d.channel_bias() is None
    assert deployed_deconv(layer, "D-NN", 0).channel_bias() is not None
