"""Calibration compiles and times real kernels through IREE, stores the profile, and reuses it."""
import dataclasses
import json

import pytest

from suite.calibrate import CODE_RATE_ROUNDS, FAULT_ELEMS, last_level_cache, load_or_calibrate, with_bandwidth_now
from suite.model_check import model_entry
from workloads.layer import LayerConfig
from targets import get_target


# the real sizes under every preset take minutes; the code path is the same
SMALL = {"stream_elems": 1 << 20, "matmul_n": 256, "presets": ["default", "data-tiling"], "rate_hw": 24,
         "fixed_rounds": 2, "repetitions": 5}
REPS = SMALL["repetitions"]


def test_calibrate_measures_stores_and_reuses(tmp_path, cache):
    target = get_target("llvm-cpu")
    prof, path, fresh = load_or_calibrate(tmp_path, target, "local-sync", None, cache, **SMALL)
    assert fresh and path.exists() and prof.measured_here and not prof.has_energy
    # plausible for any CPU made this century, and far from absurd
    assert 1e9 < prof.peak_flops < 1e14 and 1e8 < prof.bandwidth < 1e13
    doc = json.loads(path.read_text())
    assert doc["target"] == {"name": "llvm-cpu", "device": "local-sync", "threads": None}
    assert doc["measurements"]["matmul"]["preset"] in SMALL["presets"]
    # the peak: timed in four processes spread over the calibration, the fastest of them counts
    rounds = doc["measurements"]["matmul"]["rounds_fastest_ms"]
    assert len(rounds) == 4 and prof.peak_flops == pytest.approx(2 * 256 ** 3 / (min(rounds) / 1e3), rel=1e-3)
    assert len(doc["measurements"]["stream"]["samples_ms"]) == REPS
    assert doc["sizes"] == {k: v for k, v in SMALL.items() if k != "presets"} and "256^3" in doc["source"]
    # the fixed costs of a call and of each further dispatch: measured, and of a plausible size
    assert 0 < prof.call_s < 0.01 and 0 <= prof.dispatch_s < 0.01
    assert len(doc["measurements"]["fixed_costs"]["one_dispatch_samples_ms"]) == REPS * SMALL["fixed_rounds"]
    # the vector lanes the lane term uses, and where they come from
    assert prof.vector_lanes in (4, 8, 16) and doc["vector_lanes_source"]
    # the code rate, its own algorithm's loop: a scalar gather far below the vector peak, charged
    # where a workload's counts name it
    rates = doc["measurements"]["code_rates"]
    assert set(rates) == {"gather", "tap"} and rates["gather"]["layout"] == "nchw"
    assert 1e7 < prof.gather_flops < prof.peak_flops / 2 and prof.rate("gather") == prof.gather_flops
    assert 1e7 < prof.tap_flops < prof.peak_flops and prof.rate("tap") == prof.tap_flops
    # each timed in processes spread over the calibration, as the peak: the fastest counts; the tap
    # matmul on twice the gather's grid, so that its call is not a few workers' wake-ups
    assert rates["tap"]["layer"]["hw"] == 2 * rates["gather"]["layer"]["hw"] == 2 * SMALL["rate_hw"]
    for r in rates.values():
        assert len(r["rounds_flops_per_s"]) == CODE_RATE_ROUNDS and r["flops_per_s"] == max(r["rounds_flops_per_s"])
    assert prof.rate(None) is None and prof.rate("hand-written") is None
    # a page a call touches fresh: counted by the kernel on a 48 MiB intermediate, and its cost is a
    # fraction of a microsecond to some microseconds a 4 KiB page; timed in several processes, as a
    # fresh VM's first one can pay the host's faults too
    faults = doc["measurements"]["faults"]
    assert len(faults["samples_ms"]) == REPS * SMALL["fixed_rounds"]
    assert faults["faulted_bytes"] >= 0.95 * FAULT_ELEMS * 4
    assert 1e-8 < prof.fault_s_per_byte * 4096 < 1e-4 and doc["fault_s_per_byte"] == prof.fault_s_per_byte
    # the lanes in flight that hide the FMA's latency: a conv with one sum per vector, as IREE compiled
    # it (8 lanes along its output width on x86 AVX2/AVX-512), timed against the peak: some vectors'
    # worth (4 cycles x 16 lanes on this AVX-512 VM)
    lat = doc["measurements"]["latency"]
    assert lat["in_flight"] == 8 and "conv" in lat["dispatch"] and len(lat["samples_ms"]) == REPS
    assert lat["in_flight"] <= prof.latency_lanes < 64 * lat["in_flight"] and doc["latency_lanes"] == prof.latency_lanes
    assert prof.latency_lanes == pytest.approx(lat["in_flight"] * prof.peak_flops / lat["flops_per_s"])
    # the bandwidth within the last-level cache (its size read from sysfs): the scale over a quarter
    # of it, the call's fixed cost taken off; none for a cross target, whose device has its own caches
    llc, _ = last_level_cache(target)
    if llc:
        within = doc["measurements"]["cache"]
        assert prof.cache_bytes == llc and within["bytes"] == 2 * 4 * (llc // 16) and len(within["samples_ms"]) == REPS
        assert prof.cache_bandwidth == pytest.approx(within["bytes"] / (min(within["samples_ms"]) / 1e3 - prof.call_s))
        assert 1e8 < prof.cache_bandwidth < 1e14
    assert last_level_cache(get_target("aarch64-a72"))[0] is None
    again, _, fresh_again = load_or_calibrate(tmp_path, target, "local-sync", None, cache, **SMALL)
    assert not fresh_again and again == prof
    # a run measures the DRAM bandwidth again at its start, at the profile's own sizes, and the model
    # charges its bytes at that; the calibrated value and the samples stay beside it
    now = with_bandwidth_now(prof, path, target, "local-sync", None, cache)
    assert len(now.extra["bandwidth_samples_ms"]) == REPS and now.extra["bandwidth_calibrated"] == prof.bandwidth
    assert now.bandwidth == pytest.approx(2 * 4 * SMALL["stream_elems"] / (min(now.extra["bandwidth_samples_ms"]) / 1e3))
    assert prof.bandwidth / 10 < now.bandwidth < prof.bandwidth * 10 and "start of this run" in now.extra["bandwidth_source"]
    assert dataclasses.replace(now, bandwidth=prof.bandwidth, extra=None) == prof     # nothing else moved
    layer = LayerConfig(cin=1, cout=1, h=1024, w=1024, k=1, r=2)          # bytes-bound: its time follows the bandwidth
    t_cal, t_now = (model_entry(layer, "C-NN", None, p, "full")["t_ms"] for p in (prof, now))
    assert t_now != t_cal and (t_now < t_cal) == (now.bandwidth > prof.bandwidth)
    path.write_text("{ truncated")                  # a corrupt profile is measured again (as above: stopped
    with pytest.raises(Recalibrating):              # at its start, the measuring itself is what was tested)
        load_or_calibrate(tmp_path, target, "local-sync", None, cache, on_calibrate=_recalibrating, **SMALL)


class Recalibrating(Exception):
    pass


def _recalibrating():
    raise Recalibrating


def test_the_fixed_cost_chain_really_is_that_many_dispatches_in_one_submission(cache, tmp_path):
    """IREE fuses none of the chain's reductions into another: k reductions, k dispatches, all in
    one stream.cmd.execute, as a module's dispatches run (no host wait between them); and the chain
    computes what it says."""
    import subprocess
    import numpy as np
    from suite.build import build_module, static_summary
    from suite.calibrate import CHAIN, _dispatch_chain_mlir
    from targets.iree_run import run_module
    from targets.iree_tools import compiler_tool
    target = get_target("llvm-cpu")
    x = np.full(64, 1.5, np.float32)
    for k in (1, CHAIN):
        built = build_module(cache, _dispatch_chain_mlir(k), "none", target.flags("default"), 600)
        assert static_summary(cache, built, 600)["dispatch_count"] == k
        y, _ = run_module(built.vmfb, cache.input_file(x), target.runtime_flags("local-task", None), 600)
        want = 0.0
        for _ in range(k):
            want = float(np.sum(x + np.float32(want)))
        assert float(y) == pytest.approx(want, rel=1e-5)
    src = tmp_path / "chain.mlir"
    src.write_text(_dispatch_chain_mlir(CHAIN))
    stream = subprocess.run([compiler_tool(), str(src), *target.flags("default"), "--compile-to=stream"],
                            capture_output=True, text=True, check=True).stdout
    assert stream.count("stream.cmd.execute") == 1 and stream.count("stream.cmd.dispatch") == CHAIN


def test_vector_lanes_come_from_the_cpu_flags_or_the_architecture():
    from suite.calibrate import vector_lanes
    host = get_target("llvm-cpu")
    if host.cpu_arch == "x86_64":
        assert vector_lanes(host, {"cpu_flags": ["avx", "avx2", "avx512f", "fma"]})[0] == 16
        assert vector_lanes(host, {"cpu_flags": ["avx", "avx2", "fma"]})[0] == 8
        assert vector_lanes(host, {"cpu_flags": []})[0] == 4
    assert vector_lanes(get_target("aarch64-a72"), {"cpu_flags": ["avx512f"]}) == (4, "aarch64: NEON's 128-bit vectors, 4 f32 lanes")
    assert vector_lanes(get_target("vulkan"), {})[0] is None


def test_the_code_rates_are_their_algorithms_loops_on_a_layer_of_no_catalogue(cache):
    """Each code rate is its own algorithm's loop (REVD2's tensor.extract gather; REVD's tap matmul),
    exact against torch, on a deconvolution that no catalogue layer is, so the model is never
    calibrated on a layer it predicts."""
    import numpy as np
    import torch
    from suite.build import build_module
    from suite.calibrate import CODE_RATES, RATE_LAYER, _rate_workload
    from targets.iree_run import run_module
    from workloads.catalogue import CATALOGUES
    g = RATE_LAYER
    assert all((lay.cin, lay.cout) != (g["cin"], g["cout"]) for _, layers in CATALOGUES.values() for lay in layers)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(g["cin"], g["cout"], g["kernel"], g["kernel"], generator=gen)
    target = get_target("llvm-cpu")
    for rate, (algorithm, layouts, dispatches, grid) in CODE_RATES.items():
        if algorithm == "tap-matmul":
            continue                                    # below: a tap group, not a whole deconvolution
        mlir, (x,), flops = _rate_workload(algorithm, layouts[0])
        out = (g["hw"] - 1) * g["stride"] + g["kernel"]
        assert flops == 2 * g["cin"] * g["cout"] * (g["kernel"] // g["stride"]) ** 2 * out * out
        built = build_module(cache, mlir, "none", target.flags("default"), 600)
        y, _ = run_module(built.vmfb, cache.input_file(x), target.runtime_flags("local-sync", None), 600)
        ref = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), w, stride=g["stride"])
        assert abs(y - ref.numpy()).max() < 1e-3, rate
    assert "tensor.extract %xp" in _rate_workload("REVD2", "nchw")[0]
    # the tap matmul: one tap group of REVD on that layer, out[o, q, a, p, b] = sum_c x[c, q, p] w[o, a, b, c],
    # one dispatch, as REVD's and STDD's tap groups compile
    from suite.build import static_summary
    from suite.calibrate import tap_matmul_mlir
    co, ci, r, hw = g["cout"], g["cin"], g["stride"], 12
    mlir, (x,), flops = _rate_workload("tap-matmul", "nchw", hw)
    assert flops == 2 * co * ci * r * r * hw * hw
    wt = torch.randn(co, r, r, ci, generator=torch.Generator().manual_seed(0)).numpy()
    assert mlir == tap_matmul_mlir(wt, hw, hw)
    built = build_module(cache, mlir, "none", target.flags("default"), 600)
    y, _ = run_module(built.vmfb, cache.input_file(x), target.runtime_flags("local-sync", None), 600)
    assert abs(y - np.einsum("cqp,oabc->oqapb", x, wt)).max() < 1e-3
    assert [d["name"] for d in static_summary(cache, built, 600)["lowering"]
            if "matmul" in d["name"]] == [f"main_dispatch_0_matmul_like_{co}x{hw}x{r}x{hw}x{r}x{ci}_f32"]
    assert CODE_RATES["tap"][2] == 1

