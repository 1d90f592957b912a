"""Every deconvolution algorithm equals torch's conv_transpose2d. The torch-expressed ones are
checked in eager mode on many configs; all of them (REVD2's hand-written linalg included) are
checked through the real IREE compiler and runtime on small shapes."""
import numpy as np
import pytest
import torch

from suite.build import build_module
from suite.export import to_mlir
from targets.iree_run import run_module
from targets import get_target
from tests.test_transforms import conv_transpose_reference, deconv_f64, random_layers
from workloads.algorithms import ALGORITHMS
from workloads.layer import LayerConfig
from workloads.methods import DEPLOYED, deployed_deconv, make_input

TORCH_ALGOS = [a for a in ALGORITHMS.values() if a.torch_form]


@pytest.mark.parametrize("name", list(ALGORITHMS))
def test_every_algorithm_carries_its_facts(name):
    """Lowering, model counts, torch form and loop nest live in the registry entry, and each is real:
    the lowering builds, the counts are positive, a torch form lowers to a module."""
    a = ALGORITHMS[name]
    layer = LayerConfig(cin=2, cout=3, h=5, w=6, k=3, r=2)
    from workloads.counts import counts
    for deployed in DEPLOYED:
        c = counts(layer, deployed, name)
        assert c.macs > 0 and c.bytes("full") > 0
        low = a.lower(deployed_deconv(layer, deployed, 0), layer.batch, layer.h, layer.w)
        assert (low.module is not None) == a.torch_form and (low.mlir is not None) != a.torch_form
    # every algorithm of ours has an instrumented loop nest; only IREE's own lowering has none
    assert (a.loop_nest is None) == (name == "IREE")


@pytest.mark.parametrize("layer", list(random_layers(60, seed=1)), ids=lambda L: L.id)
def test_torch_algorithms_equal_conv_transpose2d(layer):
    x = make_input(layer, 0).double()
    for deployed in DEPLOYED:
        d = deconv_f64(layer, deployed)
        ref = conv_transpose_reference(x, d)
        for alg in TORCH_ALGOS:
            for form in ("", *alg.form_names):           # every form, where it changes the module or not
                y = alg.lower(d, layer.batch, layer.h, layer.w, **({"form": form} if form else {})).module.double()(x)
                assert y.shape == ref.shape, alg.name
                torch.testing.assert_close(y, ref, rtol=0, atol=1e-10, msg=f"{alg.name} {form} {deployed}")


IREE_LAYERS = [
    LayerConfig(cin=3, cout=2, h=6, w=7, k=3, r=2),
    LayerConfig(cin=2, cout=3, h=5, w=6, k=4, r=3, pad=(0, 3, 1, 2), batch=2),
    LayerConfig(cin=2, cout=1, h=5, w=4, k=2, r=4, pad=(1, 0, 0, 1), bias=False),
    LayerConfig(cin=1, cout=2, h=4, w=4, k=1, r=1),
]


FORMS = [(a.name, f) for a in ALGORITHMS.values() for f in a.form_names]


@pytest.mark.parametrize("layer", IREE_LAYERS, ids=lambda L: L.id)
@pytest.mark.parametrize("name,form", [(n, "") for n in ALGORITHMS] + FORMS)
def test_every_algorithm_through_iree_equals_conv_transpose2d(layer, name, form, tmp_path, cache):
    target = get_target("llvm-cpu")
    x = make_input(layer, 0)
    np.save(tmp_path / "x.npy", x.numpy())
    for deployed in DEPLOYED:
        d = deployed_deconv(layer, deployed, 0)
        if form and form not in ALGORITHMS[name].forms(d, layer.h, layer.w):
            continue                                     # the same module as the plain form's
        low = ALGORITHMS[name].lower(d, layer.batch, layer.h, layer.w, **({"form": form} if form else {}))
        mlir, input_type = to_mlir(low, x)
        built = build_module(cache, mlir, input_type, list(target.compile_flags), timeout=300)
        y, _ = run_module(built.vmfb, tmp_path / "x.npy", ["--device=local-sync"], timeout=120)
        ref = conv_transpose_reference(x.double(), d).numpy()
        assert y.shape == ref.shape
        np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5)
