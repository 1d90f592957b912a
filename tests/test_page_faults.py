"""page-faults: the kernel's count of the pages a call touches fresh, on real IREE modules, and the
model's charge for them."""
import numpy as np
import pytest

from suite.build import build_module
from suite.calibrate import FAULT_ELEMS, _chain_mlir
from suite.malloc import malloc_env
from suite.model import Estimate, Profile, compiled_time
from suite.runner import Runner, RunOptions
from targets import get_target
from targets.collectors import COLLECTORS, CollectContext
from targets.iree_run import faults_per_call
from workloads.layer import LayerConfig
from workloads.workload import expand

pytestmark = pytest.mark.skipif(not COLLECTORS["page-faults"].availability().usable, reason="no wait4()")


def _chain(cache, elems):
    target = get_target("llvm-cpu")
    vmfb = build_module(cache, _chain_mlir(2, elems), "none", target.flags("default"), 600).vmfb
    return vmfb, cache.input_file(np.full(elems, 1.5, np.float32))


def test_a_call_whose_intermediate_glibc_maps_afresh_faults_it_every_call(cache):
    """Two chained scales: the 48 MiB intermediate is past glibc's largest mmap threshold, so every
    call maps it afresh and touches every page of it (and, on some devices, the output's too: here
    local-sync faults both, local-task the intermediate alone); a 64-float chain faults nothing per call."""
    vmfb, x = _chain(cache, FAULT_ELEMS)
    faults, command = faults_per_call(vmfb, x, ["--device=local-sync"], 120)
    assert 0.95 * FAULT_ELEMS * 4 <= faults * 4096 <= 2.2 * FAULT_ELEMS * 4, faults
    assert "--benchmark_min_time=3x" in command
    small, xs = _chain(cache, 64)
    assert faults_per_call(small, xs, ["--device=local-sync"], 120)[0] < 16


def test_the_collector_labels_its_counts_and_keeps_them_beside_the_module(cache, monkeypatch):
    vmfb, x = _chain(cache, FAULT_ELEMS)
    ctx = CollectContext(vmfb=vmfb, x_path=x, device="local-sync", timeout=120, emulated=False,
                         runtime_flags=lambda device: [f"--device={device}"], static_summary=dict,
                         rebuild=None, env=malloc_env("system"))
    values = {v.name: v for v in COLLECTORS["page-faults"].collect(ctx)}
    assert set(values) == {"page_faults", "faulted_bytes"}
    assert all(v.source == "hardware" and not v.estimate and v.dispatch is None for v in values.values())
    assert values["faulted_bytes"].value == values["page_faults"].value * 4096 >= 0.95 * FAULT_ELEMS * 4
    # counted once per module and settings: the second collect reads the count kept beside the module;
    # a kept count that is corrupt is counted again, never trusted
    kept = next(vmfb.parent.glob(f"{vmfb.stem}.faults-*.json"))
    good = kept.read_text()
    kept.write_text('{"faults_per_call": "many"')
    recounted = {v.name: v.value for v in COLLECTORS["page-faults"].collect(ctx)}
    assert recounted["faulted_bytes"] >= 0.95 * FAULT_ELEMS * 4 and kept.read_text() != '{"faults_per_call": "many"'
    kept.write_text(good)
    import targets.iree_run as iree_run
    monkeypatch.setattr(iree_run, "faults_per_call", lambda *a, **k: pytest.fail("counted twice"))
    again = {v.name: v.value for v in COLLECTORS["page-faults"].collect(ctx)}
    assert again == {k: v.value for k, v in values.items()}


def test_a_run_counts_every_row_and_the_model_charges_the_calibrated_cost(cache):
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-sync", repetitions=3, min_time_s=0.001,
                               collectors=("iree-static", "page-faults")), cache)
    (res,) = runner.run(expand([LayerConfig(cin=2, cout=2, h=8, w=8, k=3, r=2)], ["C-NN"]))
    assert res.status == "ok" and not res.counter_errors, res.counter_errors
    faulted = [c for c in res.counters if c["collector"] == "page-faults" and c["name"] == "faulted_bytes"]
    assert len(faulted) == 1 and faulted[0]["value"] < 16 * 4096           # a tiny layer reuses its buffers
    # the model adds the faulted bytes at the profile's cost, on top of its roofs and fixed costs
    prof = Profile("p", "", "", 1e11, 1e10, call_s=1e-5, dispatch_s=2e-6, fault_s_per_byte=2e-10)
    e = Estimate(2e6, 1e6, 2e-5, 1e-4, None)
    base = compiled_time(e, prof, 1e6, 3)
    assert base == pytest.approx(1e-4 + 1e-5 + 2 * 2e-6)
    assert compiled_time(e, prof, 1e6, 3, faulted_bytes=5e7) == pytest.approx(base + 5e7 * 2e-10)
