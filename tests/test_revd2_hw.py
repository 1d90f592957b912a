"""REVD2 stays exact over hypothesis's layer configurations, in both of its compiled forms:

- the hand-written kernel (workloads/kernels/revd2.c), built by clang for this host with the flags
  the dispatch object gets, and called workgroup by workgroup on hundreds of layers wide enough for every path
  (border buffers, one to four vectors per phase, uniform and split shifts, blocks of rows computed
  together, the scalar r > 4 path);
- REVD2's linalg form and REVD2-HW's custom dispatch through the real IREE compiler and runtime.

A target the kernel is not built for, and a machine without clang, get one clear line."""
import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite.build import build_module
from suite.export import to_mlir
from suite.errors import UserError
from targets import get_target
from targets.iree_run import run_module
from tests.test_transforms import conv_transpose_reference, deconv_f64
from workloads.algorithms import ALGORITHMS, revd2_hw
from workloads.layer import LayerConfig
from workloads.methods import DEPLOYED, deployed_deconv, make_input
from workloads.workload import expand, unavailable_algorithms

pytestmark = pytest.mark.skipif(revd2_hw.missing_tool() is not None, reason="clang is not installed")


@st.composite
def layers(draw, max_w: int = 150):
    k = draw(st.integers(1, 6))
    r = draw(st.integers(1, 5))
    pads = draw(st.one_of(st.none(), st.tuples(*[st.integers(0, k - 1)] * 4)))
    return LayerConfig(cin=draw(st.integers(1, 4)), cout=draw(st.integers(1, 3)), h=draw(st.integers(k, k + 3)),
                       w=draw(st.integers(k, max(k, max_w))), k=k, r=r, batch=draw(st.integers(1, 2)), pad=pads,
                       bias=draw(st.booleans()))


# the host's own level, and AVX2 where the host has AVX-512: 16- and 8-lane vectors (NEON's width);
# and the host's level with no room for a workgroup's padded rows, so that the border groups pad
# their own rows (the path of large images and channel counts, which these small layers never reach)
_HOST = revd2_hw._x86_level()
LEVELS = [_HOST] + ([("-march=x86-64-v3",)] if _HOST == ("-march=x86-64-v4",) else []) + [(*_HOST, "-DROWBUF=1")]


@pytest.fixture(scope="module", params=LEVELS, ids=lambda flags: "-".join(f.split("=")[-1] for f in flags))
def kernel(tmp_path_factory, request):
    """revd2.c as a host shared library: the dispatch object's source and code flags, callable here."""
    lib = tmp_path_factory.mktemp("kernel") / "revd2.so"
    flags = [f for f in revd2_hw.CLANG_FLAGS if f not in ("-ffreestanding", "-fvisibility=hidden")]
    subprocess.run(["clang", *request.param, *flags, "-shared", str(revd2_hw.KERNEL_SOURCE), "-o", str(lib)],
                   check=True, capture_output=True)
    fn = ctypes.CDLL(str(lib)).revd2_workgroup
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t] * 5 + [ctypes.c_size_t, ctypes.c_size_t]
    fn.restype = None
    return fn


def call_kernel(fn, d, x: torch.Tensor, padded: bool = False) -> np.ndarray:
    """What IREE's dispatch does: one call per workgroup (its output rows, image); ``padded``: on the input
    zero-padded ahead, as the module's tensor.pad does for layers of short rows and many channels."""
    n, _, h, w = x.shape
    w2, bias, params, out_shape = revd2_hw.kernel_operands(d, n, h, w, padded)
    if padded:
        top, bottom, left, right = revd2_hw.input_padding(d, h, w)
        x = torch.nn.functional.pad(x, (left, right, top, bottom))
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in (x.numpy(), w2.numpy(), bias.numpy())]
    arrays.append(np.asarray(params, dtype=np.int32))
    y = np.full(out_shape, np.nan, dtype=np.float32)                # every pixel must be written
    ptrs = [a.ctypes.data for a in (*arrays, y)]
    rows = params[9]                                                # output rows per workgroup
    for image in range(n):
        for group in range(-(-out_shape[2] // rows)):
            fn(ptrs[0], 0, ptrs[1], 0, ptrs[2], 0, ptrs[3], 0, ptrs[4], 0, group, image)
    return y


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=layers(), deployed=st.sampled_from(sorted(DEPLOYED)), padded=st.booleans())
def test_the_hand_written_kernel_equals_conv_transpose2d(kernel, layer, deployed, padded):
    x = make_input(layer, 0)
    y = call_kernel(kernel, deployed_deconv(layer, deployed, 0), x, padded)
    ref = conv_transpose_reference(x.double(), deconv_f64(layer, deployed)).numpy()
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=layers(max_w=40), deployed=st.sampled_from(sorted(DEPLOYED)), name=st.sampled_from(["REVD2", "REVD2-HW"]),
       layout=st.sampled_from(["nchw", "nhwc"]))
def test_both_forms_of_revd2_through_iree_equal_conv_transpose2d(cache, layer, deployed, name, layout):
    x = make_input(layer, 0)
    d = deployed_deconv(layer, deployed, 0)
    ref = conv_transpose_reference(x.double(), deconv_f64(layer, deployed)).numpy()
    if layout == "nhwc":
        x, ref = x.permute(0, 2, 3, 1).contiguous(), ref.transpose(0, 2, 3, 1)
    mlir, input_type = to_mlir(ALGORITHMS[name].lower(d, layer.batch, layer.h, layer.w, layout), x)
    built = build_module(cache, mlir, input_type, list(get_target("llvm-cpu").compile_flags), timeout=300)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x.numpy())
        y, _ = run_module(built.vmfb, Path(tmp) / "x.npy", ["--device=local-task"], timeout=120)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_short_rows_of_many_channels_are_padded_ahead_and_stay_exact(cache, layout):
    """cin x T = 64 border rows per workgroup and rows of one group: the module pads the input with
    tensor.pad before the kernel, the counts add that copy, and the result is still exact."""
    layer = LayerConfig(cin=32, cout=2, h=6, w=9, k=2, r=2, pad=(1, 0, 0, 1))
    d = deployed_deconv(layer, "D-SP", 0)
    assert revd2_hw.padded_ahead(d.cin, d.taps_per_phase, 9) and not revd2_hw.padded_ahead(3, 3, 9)
    assert not revd2_hw.padded_ahead(32, 3, 481)                      # ESPCN's wide rows read in place
    x = make_input(layer, 0)
    ref = conv_transpose_reference(x.double(), deconv_f64(layer, "D-SP")).numpy()
    lowering = ALGORITHMS["REVD2-HW"].lower(d, layer.batch, layer.h, layer.w, layout)
    assert "tensor.pad" in lowering.mlir
    if layout == "nhwc":
        x, ref = x.permute(0, 2, 3, 1).contiguous(), ref.transpose(0, 2, 3, 1)
    mlir, input_type = to_mlir(lowering, x)
    built = build_module(cache, mlir, input_type, list(get_target("llvm-cpu").compile_flags), timeout=300)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "x.npy", x.numpy())
        y, _ = run_module(built.vmfb, Path(tmp) / "x.npy", ["--device=local-task"], timeout=120)
    np.testing.assert_allclose(y, ref, rtol=0, atol=2e-5)
    from workloads.counts import counts
    padded, plain = counts(layer, "D-SP", "REVD2-HW"), counts(layer, "D-SP", "REVD2")
    assert padded.bytes("full") - plain.bytes("full") == 2 * 4 * 32 * (6 + sum(revd2_hw.input_padding(d, 6, 9)[:2])) \
        * (9 + sum(revd2_hw.input_padding(d, 6, 9)[2:]))
    assert padded.bytes("paper") == plain.bytes("paper") and "padded ahead" in padded.note


def test_a_target_without_the_kernel_leaves_it_out_or_says_why():
    layer = LayerConfig(cin=2, cout=2, h=5, w=5, k=3, r=2)
    assert {w.algorithm for w in expand([layer], ["D-SP"], cpu_arch="aarch64")} >= {"REVD2", "REVD2-HW"}
    for arch, where in ((None, "not a CPU"), ("riscv64", "riscv64")):
        assert "REVD2-HW" not in {w.algorithm for w in expand([layer], ["D-SP"], cpu_arch=arch)}
        with pytest.raises(UserError, match=f"REVD2-HW is a hand-written kernel for x86_64 and aarch64 CPUs.*{where}"):
            expand([layer], ["D-SP"], ["REVD2-HW"], cpu_arch=arch)
    assert get_target("riscv64").cpu_arch == "riscv64" and get_target("aarch64-a72").cpu_arch == "aarch64"
    assert get_target("vulkan").cpu_arch is None


def test_the_tuner_searches_the_kernel_in_the_layout_it_reads():
    from suite.tuning import SEARCH_SPACES, applies
    from workloads.workload import Workload
    w = Workload(LayerConfig(cin=2, cout=2, h=5, w=5, k=3, r=2), "D-SP", "REVD2-HW")
    assert [c.layout for c in SEARCH_SPACES["llvm-cpu"] if applies(c, w)] == ["nchw"]
    assert [c.layout for c in SEARCH_SPACES["llvm-cpu"] if applies(c, w, worth=False)] == ["nhwc", "nhwc", "nchw"]


def test_without_clang_the_run_leaves_the_kernel_out_and_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    layer = LayerConfig(cin=2, cout=2, h=5, w=5, k=3, r=2)
    assert "apt-get install clang" in unavailable_algorithms("x86_64")["REVD2-HW"]
    assert "REVD2-HW" not in {w.algorithm for w in expand([layer], ["D-SP"], cpu_arch="x86_64")}
    with pytest.raises(UserError, match="clang"):
        expand([layer], ["D-SP"], ["REVD2-HW"], cpu_arch="x86_64")


def test_a_network_named_with_only_the_kernel_says_it_has_no_torch_form():
    from workloads.networks import network_workloads
    with pytest.raises(UserError, match="REVD2-HW has none"):
        network_workloads(["espcn"], ["REVD2-HW"])
    deployed = [w.algorithm for w in network_workloads(["espcn"], ["REVD2-HW", "TDCF"]) if w.method == "deployed"]
    assert deployed == ["TDCF"]
