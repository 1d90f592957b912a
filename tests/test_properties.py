"""Property-based tests (hypothesis) over many random valid configurations: the transforms and the
torch-expressed algorithms are exact; the layer parser never fails with anything but a clear error."""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.errors import UserError
from tests.test_transforms import conv_transpose_reference, deconv_f64
from workloads.algorithms import ALGORITHMS
from workloads.layer import LayerConfig, parse_layer
from workloads.methods import DEPLOYED, make_input, trained_layer


@st.composite
def layers(draw):
    k = draw(st.integers(1, 6))
    r = draw(st.integers(1, 4))
    pads = draw(st.one_of(st.none(), st.tuples(*[st.integers(0, k - 1)] * 4)))
    return LayerConfig(cin=draw(st.integers(1, 3)), cout=draw(st.integers(1, 3)), h=draw(st.integers(k, k + 5)),
                       w=draw(st.integers(k, k + 5)), k=k, r=r, batch=draw(st.integers(1, 2)), pad=pads,
                       bias=draw(st.booleans()))


FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(layers(), st.sampled_from(sorted(DEPLOYED)))
def test_transforms_are_exact(layer, deployed):
    x = make_input(layer, 0).double()
    ref = trained_layer(layer, DEPLOYED[deployed], 0).double()(x)
    torch.testing.assert_close(conv_transpose_reference(x, deconv_f64(layer, deployed)), ref, rtol=0, atol=1e-10)


@FAST
@given(layers(), st.sampled_from(sorted(DEPLOYED)), st.sampled_from([a for a in ALGORITHMS if ALGORITHMS[a].torch_form]))
def test_algorithms_are_exact(layer, deployed, alg):
    x = make_input(layer, 0).double()
    d = deconv_f64(layer, deployed)
    y = ALGORITHMS[alg].lower(d, layer.batch, layer.h, layer.w).module.double()(x)
    torch.testing.assert_close(y, conv_transpose_reference(x, d), rtol=0, atol=1e-10)


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=60),
                 st.lists(st.tuples(st.sampled_from(["cin", "cout", "c", "h", "w", "size", "k", "r", "batch", "pad",
                                                     "bias", "dtype", "name", "x"]),
                                    st.one_of(st.integers(-3, 40).map(str), st.text(max_size=6))),
                          max_size=9).map(lambda kv: ",".join(f"{k}={v}" for k, v in kv))))
def test_the_layer_parser_fails_only_with_clear_errors(spec):
    try:
        layer = parse_layer(spec)
    except UserError as e:
        # one line that names the option and says what is wrong with it
        assert str(e).startswith(("--layer:", "layer:")) and "\n" not in str(e), str(e)
    else:
        assert layer.k <= layer.h + layer.pads[0] + layer.pads[1] and min(layer.cin, layer.cout, layer.r) >= 1
