"""Every workload of the tiny catalogue, end to end through IREE on llvm-cpu: exported, compiled,
run, and verified against the PyTorch output of the trained layer it replaces."""
import numpy as np
import pytest
import torch.nn as nn

from suite.runner import Runner, RunOptions
from suite.verify import verify
from targets import get_target
from workloads import algorithms as algos
from workloads.algorithms import revd
from workloads.catalogue import catalogue
from workloads.layer import LayerConfig
from workloads.workload import Workload, expand


def runner(cache, device="local-task", **kw):
    return Runner(RunOptions(get_target("llvm-cpu"), device, verify_only=True, **kw), cache)


@pytest.mark.parametrize("layer", catalogue("tiny"), ids=lambda L: L.name)
def test_tiny_catalogue_verifies_through_iree(layer, cache):
    """Every method and algorithm of the first tiny layer, through the run's own path (export,
    compile, verify against the trained layer); the trained methods of the other two. Their
    algorithms, with the same asymmetric crops and kernels no multiple of r, are
    test_algorithms.test_every_algorithm_through_iree_equals_conv_transpose2d's, and CI's tiny run
    (.ci/run) verifies all 57 workloads again, on the host and under qemu."""
    workloads = expand([layer])
    assert len(workloads) == 3 + 2 * len(algos.ALGORITHMS)
    if layer.name != catalogue("tiny")[0].name:
        workloads = [w for w in workloads if w.algorithm is None]
        assert {w.method for w in workloads} == {"C-SP", "C-NN", "C-BL"}
    for res in runner(cache).run(workloads):
        assert res.status == "ok", f"{res.id}: {res.status}: {res.reason}"
        assert res.max_abs_err is not None and res.max_abs_err <= res.tolerance
        assert res.output_shape == [layer.batch, layer.cout, *layer.out_hw(res.method)]


def test_single_threaded_device_and_batch(cache):
    layer = LayerConfig(cin=3, cout=2, h=7, w=5, k=3, r=2, batch=3)
    results = runner(cache, device="local-sync").run(expand([layer], ["C-SP", "D-SP"], ["REVD2", "TDC"]))
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    assert "--device=local-sync" in results[0].commands["verify"]


def test_second_run_skips_compilation(cache):
    w = expand([LayerConfig(cin=2, cout=2, h=6, w=6, k=3, r=2)], ["D-NN"], ["STRD"])
    first = runner(cache).run(w)[0]
    second = runner(cache).run(w)[0]
    assert second.module_key == first.module_key and second.compile_cached is True
    assert second.status == "ok"


class _ZeroDeconv(nn.Module):
    """An 'algorithm' with the right output shape and the wrong values."""

    def __init__(self, d, h, w):
        super().__init__()
        self.d, self.out = d, d.out_hw(h, w)

    def forward(self, x):
        return x.new_zeros(x.shape[0], self.d.cout, *self.out) + x.mean() * 0


def test_wrong_output_is_caught_and_not_timed(cache, monkeypatch):
    monkeypatch.setitem(algos.ALGORITHMS, "ZERO", algos.Algorithm("ZERO", "wrong on purpose",
                                                                 algos._torch(_ZeroDeconv), revd.counts, None))
    layer = LayerConfig(cin=2, cout=2, h=6, w=6, k=3, r=2)
    opts = RunOptions(get_target("llvm-cpu"), "local-task")       # timing on: a wrong result must not be timed
    res = Runner(opts, cache).run([Workload(layer, "D-SP", "ZERO")])[0]
    assert res.status == "wrong" and "exceeds tolerance" in res.reason
    assert res.samples_ms == [] and res.stats_ms is None and "time" not in res.commands


def test_a_compile_failure_is_reported_and_the_run_goes_on(cache, monkeypatch):
    broken = "func.func @main(%x: tensor<1x2x6x6xf32>) -> tensor<1x2x12x12xf32> {\n  return %x : tensor<1x2x6x6xf32>\n}\n"
    monkeypatch.setitem(algos.ALGORITHMS, "BROKEN", algos.Algorithm(
        "BROKEN", "does not compile", lambda d, n, h, w, layout="nchw": algos.Lowering(mlir=broken), revd.counts,
        None, torch_form=False))
    layer = LayerConfig(cin=2, cout=2, h=6, w=6, k=3, r=2)
    results = runner(cache).run([Workload(layer, "D-SP", "BROKEN"), Workload(layer, "D-SP", "TDC")])
    assert results[0].status == "compile-failed" and "error" in results[0].reason
    assert "iree-compile" in results[0].commands["compile"]
    assert results[1].status == "ok"


def test_verification_rejects_shape_nan_and_inf():
    ref = np.ones((1, 2, 4, 4), np.float32)
    assert not verify(np.ones((1, 2, 4, 3), np.float32), ref).ok
    bad = ref.copy()
    bad[0, 0, 0, 0] = np.nan
    assert "NaN" in verify(bad, ref).reason
    bad[0, 0, 0, 0] = np.inf
    assert not verify(bad, ref).ok
    assert verify(ref + 1e-6, ref).ok
