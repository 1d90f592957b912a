"""The nhwc-blocked layout: a conv padded and split so IREE's llvm-cpu codegen gets full vectors,
and a tuning spec that IREE really applies (checked on the lowering it records)."""
import json

import pytest
import torch
import torch.nn.functional as F

from suite.runner import Runner, RunOptions
from targets import get_target
from workloads.blocked_conv import BlockedConv2d, ConvTiles, phase_grid, tuning_spec
from workloads.layer import parse_layer
from workloads.workload import Workload, expand, from_nhwc, to_nhwc

# C-SP conv: 4 -> 2*3*3 = 18 output channels (padded to 32), 9x11 input, asymmetric padding
LAYER = parse_layer("cin=4,cout=2,h=9,w=11,k=3,r=3,pad=0/1/1/2,layout=nhwc-blocked")


@pytest.mark.parametrize("batch,h,w", [(1, 9, 11), (1, 10, 7), (1, 3, 6), (1, 4, 9), (2, 6, 13), (3, 5, 5)])
def test_blocked_conv_computes_the_plain_conv(batch, h, w):
    g = torch.Generator().manual_seed(batch * 100 + h)
    weight, bias = torch.randn(9, 5, 3, 2, generator=g), torch.randn(9, generator=g)
    x = torch.randn(batch, 5, h, w, generator=g)
    conv = BlockedConv2d(weight, bias, (batch, h, w))
    assert conv.weight.shape[0] == 16                    # 9 output channels padded to the vector tile
    n, rows, cols, _ = conv.conv_shape
    assert n == max(batch, 2) and cols % conv.tiles.cols == 0 and cols >= w - 1
    y = from_nhwc(conv(to_nhwc(x)))
    torch.testing.assert_close(y, F.conv2d(x, weight, bias))


def test_tiles_follow_the_channel_counts_and_few_channels_stay_plain():
    assert ConvTiles.for_conv(32, 9) == ConvTiles(f=16, ow=4, c=8)
    assert ConvTiles.for_conv(3, 8) == ConvTiles(f=8, ow=8, c=3)
    assert BlockedConv2d.applies(torch.zeros(8, 3, 3, 3)) and BlockedConv2d.applies(torch.zeros(1, 32, 3, 3))
    assert not BlockedConv2d.applies(torch.zeros(3, 3, 3, 3))
    c_nn = Workload(LAYER, "C-NN").lowering(0)          # 4 -> 2 channels: too little arithmetic, no spec
    assert c_nn.tuning_spec is None
    espcn_like = Workload(parse_layer("cin=32,cout=1,h=5,w=6,k=3,r=3,layout=nhwc-blocked"), "C-NN").lowering(0)
    assert "vector_common_parallel = [1, 1, 8, 8, 0, 0, 0]" in espcn_like.tuning_spec


def test_one_output_channel_is_padded_to_a_vector():
    g = torch.Generator().manual_seed(7)
    weight, bias = torch.randn(1, 8, 3, 3, generator=g), torch.randn(1, generator=g)
    x = torch.randn(1, 8, 11, 13, generator=g)
    conv = BlockedConv2d(weight, bias, (1, 11, 13))
    assert conv.weight.shape[0] == 8 and conv.tiles == ConvTiles(f=8, ow=8, c=8)
    torch.testing.assert_close(from_nhwc(conv(to_nhwc(x))), F.conv2d(x, weight, bias))


def test_spec_names_the_exact_nhwc_operand_types():
    conv = BlockedConv2d(torch.zeros(9, 32, 3, 3), None, (1, 323, 483))
    spec = tuning_spec([conv])
    # 321 output rows: two entries of 160, no overlap (2 x 162 input rows), and a seam of 2 rows apart
    assert conv.conv_shape == (2, 160, 488, 16) and conv.seam == 2
    assert "tensor<2x162x490x32xf32>" in spec and "tensor<3x3x32x16xf32>" in spec
    assert "tensor<2x160x488x16xf32>" in spec
    assert "vector_common_parallel = [1, 1, 4, 16, 0, 0, 0]" in spec


def test_only_algorithms_with_a_blocked_conv_are_expanded():
    ws = expand([LAYER], ["C-SP", "D-SP"])
    assert [(w.method, w.algorithm) for w in ws] == [("C-SP", None), ("D-SP", "TDCF")]


def test_blocked_workloads_verify_and_iree_takes_the_spec(cache):
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True,
                               presets=("channels-last",), collectors=("iree-static",)), cache)
    one_channel = parse_layer("cin=8,cout=1,h=7,w=9,k=3,r=2,layout=nhwc-blocked")   # C-NN padded to 8 lanes
    results = runner.run(expand([LAYER], ["C-SP", "D-SP", "D-NN"]) + expand([one_channel], ["C-NN", "C-BL"]))
    assert [(r.method, r.algorithm) for r in results] == [("C-SP", None), ("D-SP", "TDCF"), ("D-NN", "TDCF"),
                                                          ("C-NN", None), ("C-BL", None)]
    assert all(r.layer.endswith("-nhwc-blocked") for r in results)
    for r in results:
        assert r.status == "ok", f"{r.id}: {r.status}: {r.reason}"
        assert "--iree-codegen-tuning-spec-path=" in r.commands["compile"]
        spec_path = r.commands["compile"].split("--iree-codegen-tuning-spec-path=")[1].split()[0]
        assert r.tuning_spec == open(spec_path).read()          # the record carries the spec's text
        lowering = json.loads(cache.static_path(r.module_key).read_text())["lowering"]
        convs = [d for d in lowering if "_conv_2x" in d["name"]]   # batch 2: the rows split in two
        assert convs, [d["name"] for d in lowering]
        t = convs[0]["tiles"]
        # the spec's tiles, not IREE's own choice (which never blocks columns on these shapes)
        assert t["vector_common_parallel"][2:4] in ([4, 16], [8, 8]), t


@pytest.mark.parametrize("c,r,fp,grid", [(1, 3, 16, (1, 4, 4)), (3, 2, 16, (4, 2, 2)), (3, 4, 48, (3, 4, 4)),
                                         (2, 3, 32, (2, 4, 4)), (3, 3, 32, None)])
def test_phase_grid_holds_every_phase_in_the_padded_channels(c, r, fp, grid):
    assert phase_grid(c, r, fp) == grid
    if grid:
        cp, ra, rb = grid
        assert cp * ra * rb == fp and cp >= c and ra >= r and rb >= r


@pytest.mark.parametrize("cin,c,r,batch,h,w", [(5, 1, 3, 1, 9, 11), (4, 3, 2, 1, 8, 7), (3, 3, 3, 2, 6, 9),
                                               (2, 3, 4, 1, 5, 6)])
def test_blocked_conv_with_the_shuffle_equals_conv_then_pixel_shuffle(cin, c, r, batch, h, w):
    """Both channel layouts: the phase grid (a slice of a free reshape) and, where none fits, the plain slice."""
    g = torch.Generator().manual_seed(cin * 10 + r)
    weight, bias = torch.randn(c * r * r, cin, 3, 3, generator=g), torch.randn(c * r * r, generator=g)
    x = torch.randn(batch, cin, h, w, generator=g)
    conv = BlockedConv2d(weight, bias, (batch, h, w), shuffle=r)
    assert (conv.grid is None) == (phase_grid(c, r, conv.weight.shape[0]) is None)
    y = from_nhwc(conv(to_nhwc(x)))
    torch.testing.assert_close(y, F.pixel_shuffle(F.conv2d(x, weight, bias), r))


def test_the_copy_in_is_one_dispatch_and_nothing_copies_after_the_convs(cache):
    """Batch 1: one pad dispatch, then the batch-2 conv on a free reshape of it (the halves share no
    rows, so no copies stack them), the seam's small conv, and the shuffles; with the phase grid the
    padding is sliced inside each shuffle's transpose -- no slow_memcpy after a conv."""
    layer = parse_layer("cin=8,cout=1,h=10,w=13,k=3,r=3,layout=nhwc-blocked")
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True,
                               presets=("channels-last",), collectors=("iree-static",)), cache)
    (res,) = runner.run(expand([layer], ["C-SP"]))
    assert res.status == "ok", res.reason
    names = [d["name"] for d in json.loads(cache.static_path(res.module_key).read_text())["lowering"]]
    first_conv = next(i for i, n in enumerate(names) if "_conv_2x" in n)
    assert first_conv == 1, names                                          # the pad, then the blocked conv
    after = names[first_conv + 1:]
    assert sum("_conv_" in n for n in after) == 1, names                   # the seam
    assert all("_conv_" in n or "transpose" in n for n in after), names
