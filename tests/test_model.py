"""The analytical model: hand-worked values from the reference, the reference's table of ratios,
and -- independently -- the formulas against counts taken by executing instrumented loop nests."""
import numpy as np
import pytest
import torch

from suite.model import estimate
from workloads.counts import counts
from suite.profiles import builtin_profile
from workloads import loopnests
from workloads.algorithms import ALGORITHMS
from workloads.catalogue import catalogue
from workloads.layer import LayerConfig
from workloads.methods import deployed_deconv, make_input, trained_layer, trained_weights


def activations(c, accounting="paper"):
    return sum(c.elements(accounting, kind) for kind in ("input", "output", "intermediate"))


@pytest.mark.parametrize("r, ratio", [(2, 2.6), (3, 2.8), (4, 2.88)])
def test_conv_baselines_move_1_plus_3r2_over_1_plus_r2(r, ratio):
    layer = LayerConfig(cin=3, cout=3, h=1024, w=1024, k=3, r=r)
    deconv = activations(counts(layer, "D-SP", "REVD2"))
    assert deconv == (1 + r * r) * 1024 * 1024 * 3
    for method in ("C-SP", "C-NN"):
        assert activations(counts(layer, method)) == (1 + 3 * r * r) * 1024 * 1024 * 3
        assert activations(counts(layer, method)) / deconv == pytest.approx(ratio, abs=0.005)


# upsampling.md 6.3: (r, method, algorithm) -> (MAC / (HW C^2), T / T_D-SP, E / E_D-SP), GTX 680 constants
REFERENCE_TABLE = {
    (2, "C-SP", None): (36, 2.60, 2.23), (2, "C-NN", None): (36, 2.60, 2.23),
    (2, "D-SP", "TDC"): (36, 1.00, 1.00), (2, "D-NN", "REVD2"): (16, 1.00, 0.87),
    (2, "D-NN", "STDD"): (16, 1.00, 0.87), (2, "D-SP", "STRD"): (144, 1.60, 2.15),
    (2, "D-NN", "STRD"): (64, 1.60, 1.64),
    (3, "C-SP", None): (81, 2.80, 2.35), (3, "D-NN", "REVD2"): (36, 1.00, 0.86),
    (3, "D-NN", "STDD"): (25, 1.00, 0.83), (3, "D-SP", "STRD"): (729, 2.97, 4.00),
    (3, "D-NN", "STRD"): (225, 1.80, 2.04),
    (4, "C-NN", None): (144, 2.88, 2.39), (4, "D-NN", "REVD2"): (64, 1.00, 0.86),
    (4, "D-NN", "STDD"): (36, 1.00, 0.81), (4, "D-SP", "STRD"): (2304, 5.53, 6.74),
    (4, "D-NN", "STRD"): (576, 1.88, 2.43),
}


def test_reproduces_the_reference_table_on_the_gtx680_profile():
    gtx = builtin_profile("gtx680")
    layers = {layer.r: layer for layer in catalogue("sweep-1024")}
    for (r, method, alg), (mac, t_ratio, e_ratio) in REFERENCE_TABLE.items():
        layer = layers[r]
        base = estimate(counts(layer, "D-SP", "REVD2"), gtx)
        c = counts(layer, method, alg)
        e = estimate(c, gtx)
        assert c.macs == mac * layer.h * layer.w * layer.cin * layer.cout
        assert round(e.time / base.time, 2) == t_ratio, (r, method, alg)
        assert round(e.energy / base.energy, 2) == e_ratio, (r, method, alg)


def test_conventions_are_explicit():
    layer = LayerConfig(cin=3, cout=3, h=64, w=64, k=3, r=2)
    c = counts(layer, "D-SP", "REVD2")
    gtx, pi = builtin_profile("gtx680"), builtin_profile("rpi4-a72")
    assert gtx.flops_per_mac == 1 and pi.flops_per_mac == 2
    assert estimate(c, pi).flops == 2 * c.macs and c.dtype_bytes == 4
    strd = counts(layer, "D-SP", "STRD")                          # the zero-insertion build is real traffic
    assert strd.bytes("full") > strd.bytes("paper")


TINY = [
    LayerConfig(cin=2, cout=3, h=3, w=4, k=3, r=2, bias=False),
    LayerConfig(cin=1, cout=2, h=3, w=3, k=2, r=3, batch=2, bias=False),
    LayerConfig(cin=2, cout=1, h=4, w=3, k=3, r=3, pad=(0, 2, 1, 1), bias=False),
    LayerConfig(cin=1, cout=1, h=4, w=5, k=4, r=2, pad=(3, 0, 1, 2), bias=False),
    LayerConfig(cin=2, cout=2, h=3, w=3, k=1, r=1, bias=False),
]


def assert_counts_match(c, tracker):
    assert tracker.macs == c.macs
    executed = tracker.distinct()
    modelled = {(t.tensor, t.direction): t.elements for t in c.traffic}
    assert executed == modelled


@pytest.mark.parametrize("layer", TINY, ids=lambda L: L.id)
@pytest.mark.parametrize("method", ["C-SP", "C-NN"])
def test_trained_method_formulas_match_executed_loop_nests(layer, method):
    x = make_input(layer, 0).double().numpy()
    w, _ = trained_weights(layer, method, 0)
    y, tracker = loopnests.trained(layer, method, x, w.double().numpy())
    np.testing.assert_allclose(y, trained_layer(layer, method, 0).double()(torch.from_numpy(x)).numpy(), atol=1e-12)
    assert_counts_match(counts(layer, method), tracker)


@pytest.mark.parametrize("layer", TINY, ids=lambda L: L.id)
@pytest.mark.parametrize("method", ["D-SP", "D-NN"])
@pytest.mark.parametrize("alg", [a.name for a in ALGORITHMS.values() if a.loop_nest])
def test_algorithm_formulas_match_executed_loop_nests(layer, method, alg):
    x = make_input(layer, 0).double().numpy()
    d = deployed_deconv(layer, method, 0)
    d = type(d)(d.weight.double().numpy(), d.stride, d.crop, None)
    y, tracker = ALGORITHMS[alg].loop_nest(d, x)
    ref = trained_layer(layer, {"D-SP": "C-SP", "D-NN": "C-NN"}[method], 0).double()(torch.from_numpy(x))
    np.testing.assert_allclose(y, ref.numpy(), atol=1e-6)        # transforms were made in fp32
    assert_counts_match(counts(layer, method, alg), tracker)


def test_the_compiled_terms_add_the_modules_bytes_and_fixed_costs_by_hand():
    """max(compute, the bytes the dispatches bind (at least the model's) / bandwidth) + a call's cost
    + each further dispatch's cost; nothing where the profile has no measured fixed costs."""
    from dataclasses import replace
    from suite.model import Profile, compiled_time
    from suite.model_check import add_compiled_terms
    p = Profile("t", "test", "hand", peak_flops=1e9, bandwidth=1e9, call_s=1e-5, dispatch_s=2e-5)
    e = estimate(counts(LayerConfig(cin=2, cout=2, h=8, w=8, k=3, r=2), "D-SP", "TDCF"), p, "full")
    t_static = 10 * e.bytes / 1e9                      # the module binds 10x the model's bytes
    assert compiled_time(e, p, 10 * e.bytes, 3) == pytest.approx(max(e.t_compute, t_static) + 1e-5 + 2 * 2e-5)
    assert compiled_time(e, p, 0.5 * e.bytes, 1) == pytest.approx(e.time + 1e-5)   # never below the model's bytes
    assert compiled_time(e, replace(p, call_s=None), 10 * e.bytes, 3) is None
    row = {"counters": [{"collector": "iree-static", "name": n, "value": v, "dispatch": None}
                        for n, v in (("bytes_read", 6 * e.bytes), ("bytes_written", 4 * e.bytes), ("dispatch_count", 3))]}
    entry = {"flops": e.flops, "bytes": e.bytes}
    add_compiled_terms(entry, row, p)
    assert entry["t_compiled_ms"] == pytest.approx(compiled_time(e, p, 10 * e.bytes, 3) * 1e3)


def test_the_dispatches_that_only_move_data_are_charged_after_the_roofs():
    """A call's data-moving dispatches (iree-static's movement_bytes) run between its compute
    dispatches: max(compute, the other bytes / bandwidth) + their bytes at the bandwidth within the
    last-level cache where the call's footprint fits in it, the memory's where it does not or where
    the profile has no cache measured. The initializers' dispatches are not a call's."""
    from dataclasses import replace
    from suite.model import Profile, compiled_time, moving_bandwidth
    from suite.model_check import add_compiled_terms
    p = Profile("t", "test", "hand", peak_flops=1e9, bandwidth=1e9, call_s=1e-5, dispatch_s=2e-5,
                cache_bandwidth=4e9, cache_bytes=2**20)
    e = estimate(counts(LayerConfig(cin=2, cout=2, h=8, w=8, k=3, r=2), "C-SP"), p, "full")
    static, moving = 3 * e.bytes, e.bytes
    fixed = 1e-5 + 2 * 2e-5
    assert compiled_time(e, p, static, 3, moving_bytes=moving, footprint_bytes=2**19) == pytest.approx(
        max(e.t_compute, 2 * e.bytes / 1e9) + e.bytes / 4e9 + fixed)
    assert compiled_time(e, p, static, 3, moving_bytes=moving, footprint_bytes=2**21) == pytest.approx(
        max(e.t_compute, 2 * e.bytes / 1e9) + e.bytes / 1e9 + fixed)                 # past the cache
    assert moving_bandwidth(replace(p, cache_bandwidth=None), 2**19) == 1e9 == moving_bandwidth(p, None)
    row = {"counters": [{"collector": "iree-static", "name": n, "value": v, "dispatch": None} for n, v in (
        ("bytes_read", 2 * e.bytes), ("bytes_written", e.bytes), ("movement_bytes", moving),
        ("dispatch_count", 5), ("initializer_dispatches", 2), ("transient_bytes", 1000))]}
    entry = {"flops": e.flops, "bytes": e.bytes}
    add_compiled_terms(entry, row, p)
    assert entry["moving_bytes"] == moving
    assert entry["t_compiled_ms"] == pytest.approx(
        compiled_time(e, p, static, 3, moving_bytes=moving, footprint_bytes=1000 + e.bytes) * 1e3)


def test_the_lane_term_charges_the_vector_lanes_a_convs_channels_leave_idle():
    """compute / (lanes / (width * ceil(lanes / width))): ESPCN's C-NN (a conv to 1 channel) keeps 1
    of 16 AVX-512 lanes busy, its C-SP (to 9 channels) 9 of 16; a hand-written kernel that fills the
    vector with columns, and a profile without a vector width, are charged nothing."""
    from dataclasses import replace
    from suite.model import Profile, compiled_time, lane_use
    from workloads.catalogue import catalogue
    assert lane_use(1, 16) == 1 / 16 and lane_use(9, 16) == 9 / 16 and lane_use(48, 16) == 1.0
    assert lane_use(18, 16) == 18 / 32 and lane_use(None, 16) == 1.0 and lane_use(3, None) == 1.0
    espcn = catalogue("espcn")[0]
    lanes = {(m, a): counts(espcn, m, a).lanes for m, a in (
        ("C-SP", None), ("C-NN", None), ("D-SP", "TDCF"), ("D-SP", "STRD"), ("D-NN", "TDC"), ("D-SP", "REVD2"),
        ("D-SP", "REVD2-HW"))}
    assert lanes == {("C-SP", None): 9, ("C-NN", None): 1, ("D-SP", "TDCF"): 9, ("D-SP", "STRD"): 1,
                     ("D-NN", "TDC"): 1, ("D-SP", "REVD2"): 1, ("D-SP", "REVD2-HW"): None}
    p = Profile("t", "test", "hand", peak_flops=1e9, bandwidth=1e12, call_s=0.0, dispatch_s=0.0, vector_lanes=16)
    e = estimate(counts(espcn, "C-NN"), p, "paper")
    assert compiled_time(e, p, e.bytes, 1, 1) == pytest.approx(16 * e.t_compute)
    assert compiled_time(e, replace(p, vector_lanes=None), e.bytes, 1, 1) == pytest.approx(e.t_compute)


def test_a_conv_vectorised_along_its_width_is_charged_the_latency_its_few_sums_leave_unhidden():
    """Where the module's conv is vectorised along its output width (iree-static's
    vector_lanes_in_flight), compute / min(1, lanes in flight / the calibrated lanes that hide the
    FMA's latency), in place of the channel lane term; the lane term where either is unknown, and a
    code rate still comes first."""
    from dataclasses import replace
    from suite.model import Profile, compiled_time, latency_use
    from suite.model_check import add_compiled_terms, model_entry
    assert latency_use(24, 64) == 24 / 64 and latency_use(128, 64) == 1.0
    assert latency_use(None, 64) is None and latency_use(24, None) is None
    lay = LayerConfig(cin=3, cout=3, h=16, w=16, k=3, r=2)
    p = Profile("t", "test", "hand", peak_flops=1e9, bandwidth=1e15, call_s=0.0, dispatch_s=0.0, vector_lanes=16,
                latency_lanes=64.0, tap_flops=2e8)
    e = estimate(counts(lay, "D-SP", "STRD"), p, "full")
    assert counts(lay, "D-SP", "STRD").lanes == 3                    # the channel term: 3 of 16 lanes
    assert compiled_time(e, p, e.bytes, 1, 3) == pytest.approx(16 / 3 * e.t_compute)
    assert compiled_time(e, p, e.bytes, 1, 3, in_flight=24) == pytest.approx(64 / 24 * e.t_compute)
    assert compiled_time(e, replace(p, latency_lanes=None), e.bytes, 1, 3, in_flight=24) == pytest.approx(
        16 / 3 * e.t_compute)
    assert compiled_time(e, p, e.bytes, 1, 3, rate="tap", in_flight=24) == pytest.approx(e.flops / 2e8)
    entry = model_entry(lay, "D-SP", "STRD", p, "full")
    row = {"counters": [{"collector": "iree-static", "name": "dispatch_count", "value": 1, "dispatch": None},
                        *({"collector": "iree-static", "name": n, "value": e.bytes / 2, "dispatch": None}
                          for n in ("bytes_read", "bytes_written")),
                        {"collector": "iree-static", "name": "vector_lanes_in_flight", "value": 24,
                         "dispatch": "main$async_dispatch_1_conv_3x32x32x3x4x4_f32"}]}
    add_compiled_terms(entry, row, p)
    assert entry["lanes_in_flight"] == 24
    assert entry["t_compiled_ms"] == pytest.approx(compiled_time(e, p, e.bytes, 1, 3, in_flight=24) * 1e3)


def test_the_code_rate_term_charges_revd2s_macs_at_their_codes_calibrated_rate():
    """REVD2 gathers its input with tensor.extract: it is charged its flops at the calibrated gather
    rate, and at the lane term where a profile has none. REVD and STDD run tap matmuls, charged at
    the calibrated tap rate. REVD2-HW reads in place: no rate."""
    from dataclasses import replace
    from suite.model import Profile, compiled_time
    from suite.model_check import add_compiled_terms, model_entry
    lay = LayerConfig(cin=4, cout=3, h=12, w=10, k=3, r=2)
    rates = {(m, a): counts(lay, m, a).rate for m in ("D-SP", "D-NN")
             for a in ("STDD", "STRD", "REVD", "REVD2", "REVD2-HW", "TDC", "TDCF")}
    assert {k: v for k, v in rates.items() if v} == {
        **{(m, "REVD2"): "gather" for m in ("D-SP", "D-NN")},
        **{(m, a): "tap" for m in ("D-SP", "D-NN") for a in ("REVD", "STDD")}}
    p = Profile("t", "test", "hand", peak_flops=1e12, bandwidth=1e15, call_s=0.0, dispatch_s=0.0, vector_lanes=16,
                gather_flops=1e9, tap_flops=2e10)
    tap = estimate(counts(lay, "D-NN", "REVD"), p, "paper")
    assert compiled_time(tap, p, tap.bytes, 5, 12, rate="tap") == pytest.approx(tap.flops / 2e10)
    e = estimate(counts(lay, "D-SP", "REVD2"), p, "paper")
    assert compiled_time(e, p, e.bytes, 2, 1, rate="gather") == pytest.approx(e.flops / 1e9)
    assert compiled_time(e, p, e.bytes, 2, None, rate="hand-written") == pytest.approx(e.t_compute)   # unknown
    assert compiled_time(e, replace(p, gather_flops=None), e.bytes, 2, 1, "gather") == pytest.approx(16 * e.t_compute)
    entry = model_entry(lay, "D-SP", "REVD2", p, "paper")
    row = {"counters": [{"collector": "iree-static", "name": n, "value": v, "dispatch": None}
                        for n, v in (("bytes_read", e.bytes), ("bytes_written", 0), ("dispatch_count", 2))]}
    add_compiled_terms(entry, row, p)
    assert entry["rate"] == "gather" and entry["t_compiled_ms"] == pytest.approx(e.flops / 1e9 * 1e3)
