"""Calibration compiles and times real kernels through IREE, stores the profile, and reuses it."""
import json

from suite.calibrate import load_or_calibrate
from targets import get_target


# the real sizes under every preset take minutes; the code path is the same
SMALL = {"stream_elems": 1 << 20, "matmul_n": 256, "presets": ["default", "data-tiling"]}


def test_calibrate_measures_stores_and_reuses(tmp_path, cache):
    target = get_target("llvm-cpu")
    prof, path, fresh = load_or_calibrate(tmp_path, target, "local-sync", None, cache, **SMALL)
    assert fresh and path.exists() and prof.measured_here and not prof.has_energy
    # plausible for any CPU made this century, and far from absurd
    assert 1e9 < prof.peak_flops < 1e14 and 1e8 < prof.bandwidth < 1e13
    doc = json.loads(path.read_text())
    assert doc["target"] == {"name": "llvm-cpu", "device": "local-sync", "threads": None}
    assert doc["measurements"]["matmul"]["preset"] in SMALL["presets"]
    assert len(doc["measurements"]["stream"]["samples_ms"]) == 9
    assert doc["sizes"] == {"stream_elems": 1 << 20, "matmul_n": 256} and "256^3" in doc["source"]
    # the fixed costs of a call and of each further dispatch: measured, and of a plausible size
    assert 0 < prof.call_s < 0.01 and 0 <= prof.dispatch_s < 0.01
    assert len(doc["measurements"]["fixed_costs"]["one_dispatch_samples_ms"]) == 9
    # the vector lanes the lane term uses, and where they come from
    assert prof.vector_lanes in (4, 8, 16) and doc["vector_lanes_source"]
    again, _, fresh_again = load_or_calibrate(tmp_path, target, "local-sync", None, cache, **SMALL)
    assert not fresh_again and again == prof
    path.write_text("{ truncated")                                  # a corrupt profile is measured again
    _, _, fresh_third = load_or_calibrate(tmp_path, target, "local-sync", None, cache, **SMALL)
    assert fresh_third and json.loads(path.read_text())["name"] == "calibrated"


def test_the_fixed_cost_chain_really_is_that_many_dispatches(cache):
    """The optimisation barriers keep IREE from fusing the chain: k element-wise ops, k dispatches
    (of one executable, which IREE shares between them)."""
    from suite.build import build_module, static_summary
    from suite.calibrate import CHAIN, _chain_mlir
    target = get_target("llvm-cpu")
    for k in (1, CHAIN):
        built = build_module(cache, _chain_mlir(k), "none", target.flags("default"), 600)
        assert static_summary(cache, built, 600)["dispatch_count"] == k


def test_vector_lanes_come_from_the_cpu_flags_or_the_architecture():
    from suite.calibrate import vector_lanes
    host = get_target("llvm-cpu")
    if host.cpu_arch == "x86_64":
        assert vector_lanes(host, {"cpu_flags": ["avx", "avx2", "avx512f", "fma"]})[0] == 16
        assert vector_lanes(host, {"cpu_flags": ["avx", "avx2", "fma"]})[0] == 8
        assert vector_lanes(host, {"cpu_flags": []})[0] == 4
    assert vector_lanes(get_target("aarch64-a72"), {"cpu_flags": ["avx512f"]}) == (4, "aarch64: NEON's 128-bit vectors, 4 f32 lanes")
    assert vector_lanes(get_target("vulkan"), {})[0] is None
