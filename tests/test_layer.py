import pytest

from suite.errors import UserError
from workloads.layer import LayerConfig, parse_layer


def test_inline_spec_from_the_issue():
    layer = parse_layer("cin=7,cout=5,h=13,w=17,k=5,r=3")
    assert (layer.cin, layer.cout, layer.h, layer.w, layer.k, layer.r, layer.batch) == (7, 5, 13, 17, 5, 3, 1)
    assert layer.pads == (2, 2, 2, 2)
    assert layer.id == "n1-c7to5-13x17-k5-r3"
    assert layer.out_hw("C-SP") == (39, 51) and layer.out_hw("C-NN") == (39, 51)


def test_shorthands_padding_and_even_kernels():
    layer = parse_layer("c=3,size=16,k=4,r=2,batch=2,bias=0")
    assert (layer.cin, layer.cout, layer.h, layer.w, layer.batch, layer.bias) == (3, 3, 16, 16, 2, False)
    assert layer.pads == (1, 2, 1, 2)                       # SAME_UPPER for even K
    assert parse_layer("c=3,size=16,k=3,r=2,pad=1").pad is None   # "same" spelled out is the same layer
    asym = parse_layer("c=3,size=16,k=3,r=2,pad=0/2/1/0")
    assert asym.pads == (0, 2, 1, 0) and asym.id.endswith("-p0_2_1_0")
    assert parse_layer("c=3,size=16,k=3,r=2,pad=0/2").pads == (0, 2, 0, 2)
    assert asym.out_hw("C-SP") == (2 * 16, 2 * 15) and asym.out_hw("C-NN") == (32, 31)


@pytest.mark.parametrize("spec, message", [
    ("cin=0,cout=1,h=4,w=4,k=3,r=2", "cin must be at least 1"),
    ("cin=1,cout=1,h=4,w=4,k=3,r=-2", "r must be at least 1"),
    ("cin=1,cout=1,h=2,w=4,k=5,r=2,pad=0", "larger than the padded input"),
    ("cin=1,cout=1,h=4,w=4,k=3,r=2,pad=3", "between 0 and K-1"),
    ("cin=1,cout=1,h=4,w=4,k=3", "missing r"),
    ("cin=1,cout=1,h=4,w=4,k=3,r=2,colour=red", "unknown key 'colour'"),
    ("cin=one,cout=1,h=4,w=4,k=3,r=2", "cin must be an integer"),
    ("cin=1,cout=1,h=4,w=4,k=3,r=2,dtype=f16", "not supported"),
    ("cin=1,cin=2,cout=1,h=4,w=4,k=3,r=2", "given twice"),
    ("cin 1", "expected key=value"),
    ("", "empty"),
    ("cin=1,cout=1,h=4,w=4,k=3,r=2,pad=1/2/3", "pad takes"),
])
def test_bad_specs_are_rejected_with_a_reason(spec, message):
    with pytest.raises(UserError, match=message):
        parse_layer(spec)


def test_direct_construction_validates_too():
    with pytest.raises(UserError, match="k must be at least 1"):
        LayerConfig(cin=1, cout=1, h=4, w=4, k=0, r=2)
