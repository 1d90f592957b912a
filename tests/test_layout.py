"""NHWC as a workload option: the same numbers behind another interface, compiled through IREE."""
import torch

from suite.selection import resolve_layers
from suite.rows import best_per_workload
from suite.runner import Runner, RunOptions
from targets import get_target
from workloads.catalogue import find_layer
from workloads.layer import parse_layer
from workloads.workload import Workload, expand, from_nhwc, to_nhwc

ASYM = find_layer("tiny-asym-r4")                 # asymmetric padding, C_in = C_out = 2, r 4


def test_layout_is_part_of_the_layer_id_and_name():
    nhwc = ASYM.with_layout("nhwc")
    assert nhwc.id == ASYM.id + "-nhwc" and nhwc.name == "tiny-asym-r4-nhwc"
    assert nhwc.with_layout("nchw") == ASYM and nhwc.with_layout("nchw").name == "tiny-asym-r4"
    assert parse_layer("cin=2,cout=3,h=5,w=6,k=3,r=2,layout=NHWC").layout == "nhwc"


def test_layout_list_expands_every_layer_and_catalogues_take_commas():
    layers = resolve_layers(["tiny,espcn"], [], ["nchw", "nhwc"])
    assert [lay.layout for lay in layers[:2]] == ["nchw", "nhwc"] and len(layers) == 8
    assert len({lay.id for lay in layers}) == 8


def test_nhwc_input_and_reference_are_the_nchw_ones_transposed():
    w, wl = Workload(ASYM, "D-NN", "TDCF"), Workload(ASYM.with_layout("nhwc"), "D-NN", "TDCF")
    x, xl = w.input(0), wl.input(0)
    assert xl.shape == (1, ASYM.h, ASYM.w, ASYM.cin) and torch.equal(from_nhwc(xl), x)
    assert torch.equal(wl.reference(xl, 0), to_nhwc(w.reference(x, 0)))
    with torch.no_grad():                         # the wrapped torch lowering computes the same thing
        torch.testing.assert_close(wl.lowering(0).module(xl), to_nhwc(w.lowering(0).module(x)))


def test_nhwc_workloads_verify_through_iree_with_each_preset(cache):
    layer = ASYM.with_layout("nhwc")
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True,
                               presets=("default", "channels-last")), cache)
    # a torch-module algorithm (TDCF) and a hand-written linalg one (REVD2)
    results = runner.run(expand([layer], ["C-SP", "C-NN", "D-SP", "D-NN"], ["TDCF", "REVD2"]))
    assert len(results) == 2 * (2 + 2 * 2)
    for r in results:
        assert r.status == "ok", f"{r.id} [{r.preset}]: {r.status}: {r.reason}"
        oh, ow = layer.out_hw(r.method)
        assert r.output_shape == [1, oh, ow, layer.cout]
    # verify-only rows carry no times: the best row is the first verified one, without a crash
    rows = best_per_workload([r.to_json() for r in results])
    assert len(rows) == 6 and all(r["preset"] == "default" for r in rows)


def test_revd2_mlir_reads_and_writes_the_layout_it_is_given():
    from workloads.algorithms import ALGORITHMS
    from workloads.methods import deployed_deconv
    d = deployed_deconv(ASYM, "D-SP", 0)
    nchw = ALGORITHMS["REVD2"].lower(d, 1, ASYM.h, ASYM.w).mlir
    nhwc = ALGORITHMS["REVD2"].lower(d, 1, ASYM.h, ASYM.w, "nhwc").mlir
    oh, ow = ASYM.out_hw("D-SP")
    assert f"%x: tensor<1x{ASYM.cin}x{ASYM.h}x{ASYM.w}xf32>) -> tensor<1x{ASYM.cout}x{oh}x{ow}xf32>" in nchw
    assert f"%x: tensor<1x{ASYM.h}x{ASYM.w}x{ASYM.cin}xf32>) -> tensor<1x{oh}x{ow}x{ASYM.cout}xf32>" in nhwc
