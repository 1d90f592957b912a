"""ONNX models in: the author's trained ESPCN models from the installed qonnx package, and small
graphs built here; every rewrite checked against onnxruntime, the case study run through IREE's
ONNX importer; bad files refused in one line."""
import itertools
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from suite.cli import main
from suite.record import load_record
from workloads.onnx_deploy import deploy
from workloads.onnx_graph import load, read_tensor, run_ort, with_input_shape
from workloads.onnx_models import QONNX_ESPCN, qonnx_file

SUBPIXEL = qonnx_file(f"{QONNX_ESPCN}/subpixel/float_model.onnx")
RESIZE = qonnx_file(f"{QONNX_ESPCN}/nn_resize/float_model.onnx")
IMAGE = qonnx_file(f"{QONNX_ESPCN}/test_data/input_0.pb")


def _model(nodes, inits, x_shape, y_shape, opset=13, x_dims=None):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_dims or x_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    g = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("path, pattern, r", [(SUBPIXEL, "sub-pixel", 3), (RESIZE, "nearest resize", 2)])
@pytest.mark.parametrize("algorithm", ["IREE", "TDCF"])
def test_the_authors_models_deploy_exactly_on_the_real_image(path, pattern, r, algorithm):
    image = read_tensor(IMAGE)
    assert image.shape == (1, 3, 128, 128) and 0 < image.min() and image.max() < 1
    model = with_input_shape(load(path), [1, 3, 128, 128])        # the sub-pixel file declares 1x3x4x4
    d = deploy(model, algorithm, image)
    assert [(c.pattern, c.r, c.algorithm) for c in d.changes] == [(pattern, r, algorithm)] and not d.refused
    onnx.checker.check_model(d.model, full_check=True)
    np.testing.assert_allclose(run_ort(d.model, image), run_ort(model, image), rtol=0, atol=2e-6)
    assert d.max_abs_err <= 2e-6


@pytest.mark.parametrize("mode", ["CRD", "DCR"])
def test_conv_relu_depth_to_space_with_bias_becomes_an_exact_deconvolution(mode):
    r, c, k = 2, 3, 3
    inits = {"w": _rand(c * r * r, 4, k, k), "b": _rand(c * r * r, seed=1)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["a"], name="relu"),
             helper.make_node("DepthToSpace", ["a"], ["y"], blocksize=r, mode=mode, name="d2s")]
    m = _model(nodes, inits, [1, 4, 6, 7], [1, c, 12, 14])
    d = deploy(m, "TDC")
    assert [(ch.pattern, ch.moved) for ch in d.changes] == [("sub-pixel", ["Relu"])]
    x = _rand(1, 4, 6, 7, seed=2)
    np.testing.assert_allclose(run_ort(d.model, x), run_ort(m, x), rtol=0, atol=1e-5)


def _resize_conv(ct: str, nm: str, r: int, h: int, w: int, opset: int = 13):
    inits = {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, r, r], np.float32), "w": _rand(2, 3, 3, 3)}
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["u"], mode="nearest", name="resize",
                              coordinate_transformation_mode=ct, nearest_mode=nm),
             helper.make_node("Conv", ["u", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")]
    return _model(nodes, inits, [1, 3, h, w], [1, 2, h * r, w * r], opset)


MODES = ["asymmetric", "half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "align_corners"]
ROUNDING = ["floor", "ceil", "round_prefer_floor", "round_prefer_ceil"]


@pytest.mark.parametrize("ct, nm, r, h, w", [(*cn, r, *hw) for cn in itertools.product(MODES, ROUNDING)
                                              for r in (2, 3) for hw in ((5, 6), (4, 9))])
def test_a_resize_is_deployed_exactly_when_onnxruntime_computes_plain_nearest(ct, nm, r, h, w):
    """Accepted iff onnxruntime's Resize is plain nearest upsampling on these sizes: accepted ones
    deploy exactly, refused ones really differ (refusing them is necessary, not timid)."""
    m = _resize_conv(ct, nm, r, h, w)
    x = _rand(1, 3, h, w, seed=3)
    resize_only = _model([m.graph.node[0]], {t.name: numpy_helper.to_array(t) for t in m.graph.initializer
                                             if t.name != "w"}, [1, 3, h, w], [1, 3, h * r, w * r])
    resize_only.graph.node[0].output[0] = "y"
    is_plain = np.array_equal(run_ort(resize_only, x), x.repeat(r, axis=2).repeat(r, axis=3))
    d = deploy(m, "IREE")
    if is_plain:
        assert [c.pattern for c in d.changes] == ["nearest resize"], d.refused
        np.testing.assert_allclose(run_ort(d.model, x), run_ort(m, x), rtol=0, atol=1e-5)
    else:
        assert d.model is None and "not plain nearest upsampling" in d.refused[0].reason


def test_upsample_of_opset_9_deploys():
    inits = {"scales": np.array([1, 1, 2, 2], np.float32), "w": _rand(2, 3, 3, 3)}
    nodes = [helper.make_node("Upsample", ["x", "scales"], ["u"], mode="nearest", name="up"),
             helper.make_node("Conv", ["u", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")]
    m = _model(nodes, inits, [1, 3, 5, 6], [1, 2, 10, 12], opset=9)
    d = deploy(m, "REVD")
    assert [c.pattern for c in d.changes] == ["nearest resize"]
    x = _rand(1, 3, 5, 6, seed=4)
    np.testing.assert_allclose(run_ort(d.model, x), run_ort(m, x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("conv_attrs, weight, reason", [
    ({"group": 3}, _rand(12, 1, 3, 3), "grouped convolution"),
    ({"strides": [2, 2]}, _rand(12, 3, 3, 3), "strided convolution"),
    ({}, None, "weights are computed at run time"),
])
def test_what_is_not_exactly_a_deconvolution_is_left_alone_with_the_reason(conv_attrs, weight, reason):
    inits = {"w0": _rand(12, 3, 3, 3)}
    nodes = []
    if weight is None:                                           # weights computed at run time
        nodes.append(helper.make_node("Add", ["w0", "w0"], ["w"], name="make_w"))
    else:
        inits["w"] = weight
    stride = conv_attrs.get("strides", [1, 1])[0]
    nodes += [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv", **conv_attrs),
              helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=2, mode="CRD", name="d2s")]
    m = _model(nodes, inits, [1, 3, 8, 8], [1, 3, 16 // stride, 16 // stride])
    d = deploy(m, "IREE")
    assert d.model is None and reason in d.refused[0].reason


def test_a_non_integer_scale_is_refused():
    inits = {"roi": np.zeros(0, np.float32), "scales": np.array([1, 1, 1.5, 1.5], np.float32), "w": _rand(2, 3, 3, 3)}
    nodes = [helper.make_node("Resize", ["x", "roi", "scales"], ["u"], mode="nearest", name="resize"),
             helper.make_node("Conv", ["u", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")]
    d = deploy(_model(nodes, inits, [1, 3, 4, 4], [1, 2, 6, 6]), "IREE")
    assert d.model is None and "non-integer factor 1.5" in d.refused[0].reason


def _save(m, path: Path) -> Path:
    onnx.save(m, str(path))
    return path


def test_deploy_cli_writes_a_checked_model_and_says_nothing_to_transform(tmp_path, capsys):
    out = tmp_path / "deployed.onnx"
    assert main(["deploy", str(RESIZE), "-o", str(out), "-a", "TDCF", "--image", str(IMAGE)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "nearest resize" in text and "onnx.checker passed" in text and "the real input" in text
    onnx.checker.check_model(str(out), full_check=True)
    plain = _model([helper.make_node("Relu", ["x"], ["y"])], {}, [1, 3, 4, 4], [1, 3, 4, 4])
    assert main(["deploy", str(_save(plain, tmp_path / "relu.onnx")), "-o", str(tmp_path / "o.onnx")]) == 0
    assert "nothing to transform" in capsys.readouterr().out and not (tmp_path / "o.onnx").exists()


def _bad_files(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "garbage.onnx").write_bytes(b"\x00garbage, not protobuf\xff" * 10)
    (tmp / "truncated.onnx").write_bytes(SUBPIXEL.read_bytes()[:5000])
    relu = lambda dims, opset=13: _model([helper.make_node("Relu", ["x"], ["y"])], {}, [1, 3, 4, 4], dims,  # noqa: E731
                                         opset, x_dims=dims)
    _save(relu([1, 3, 4, 4], opset=24), tmp / "future.onnx")
    _save(relu(["N", 3, "H", "W"]), tmp / "dynamic.onnx")
    return [(["deploy", str(tmp / "garbage.onnx")], "is not an ONNX model"),
            (["deploy", str(tmp / "truncated.onnx")], "is not an ONNX model"),
            (["deploy", str(tmp / "future.onnx")], "opset 24"),
            (["deploy", str(tmp / "dynamic.onnx")], "dynamic shape"),
            (["deploy", str(SUBPIXEL), "--input-shape", "1,4,8,8"], "takes 3 channels, not 4"),
            (["deploy", str(SUBPIXEL), "--input-shape", "1,3,8"], "has 3 dimensions"),
            (["run", "--model", str(tmp / "dynamic.onnx")], "dynamic shape"),
            (["run", "--model", str(tmp / "nope.onnx")], "no such ONNX file")]


def test_bad_onnx_input_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, message in _bad_files(tmp_path):
        if argv[0] == "deploy":
            argv = argv + ["-o", str(tmp_path / "out.onnx")]
        assert main(argv + (["--no-save"] if argv[0] == "run" else [])) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


def test_the_case_study_runs_through_iree_verified_on_the_real_image(tmp_path, shared_cache_dir):
    """`suite run -n espcn-bsd300`: both trained models and their TDCF deployments through IREE's
    ONNX importer, verified against onnxruntime on the BSD300 crop, with the per-network verdict."""
    out = tmp_path / "bsd.json"
    assert main(["run", "-n", "espcn-bsd300", "-a", "TDCF", "--tune", "none", "--peers", "none", "--profile", "none",
                 "--repetitions", "9", "--min-time", "0.01", "--cache-dir", str(shared_cache_dir),
                 "--no-save", "--json", str(out)]) == 0
    rec = load_record(out)
    rows = {w["id"]: w for w in rec["workloads"]}
    assert set(rows) == {f"onnx-espcn-bsd300-{v}-1x3x128x128/{m}" for v in ("subpixel", "nn_resize")
                         for m in ("trained", "deployed/TDCF")}
    for w in rows.values():
        assert w["status"] == "ok" and w["max_abs_err"] < 1e-5
        assert "--iree-input-type=onnx" in w["commands"]["compile"]
    deployed = [w for w in rows.values() if w["method"] == "deployed"]
    assert all(w["psnr_db"] is None or w["psnr_db"] > 90 for w in deployed)       # within float rounding
    verdicts = {v["layer"]: v for v in rec["verdict"]["layers"]}
    assert {v["deployed"] for v in verdicts.values()} == {"deployed"} and len(verdicts) == 2
    json.dumps(rec, allow_nan=False)


@pytest.mark.parametrize("variant", ["subpixel", "nn_resize"])
def test_the_quantized_models_convert_with_qonnx_and_deploy_within_one_output_step(variant):
    """QONNX Quant nodes become QuantizeLinear/Clip/DequantizeLinear (qonnx's QuantToQCDQ); the rewritten
    conv's weights fold to the float values they stand for; the deployment matches the quantized model
    under onnxruntime's fake-quant semantics up to one output step (float sums rounding the other way)."""
    image = read_tensor(IMAGE)
    model = with_input_shape(load(qonnx_file(f"{QONNX_ESPCN}/{variant}/quant_model.onnx")), [1, 3, 128, 128])
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "Quant" not in ops and "BatchNormalization" not in ops
    d = deploy(model, "TDCF", image)
    assert [c.algorithm for c in d.changes] == ["TDCF"]
    diff = np.abs(run_ort(d.model, image) - run_ort(model, image))
    assert diff.max() <= 1 / 255 + 1e-6 and (diff > 1e-6).mean() < 1e-3
    # the other convs keep their quantized weights: only the rewritten one was folded
    assert sum(n.op_type == "DequantizeLinear" for n in d.model.graph.node) > 0


def test_the_graph_model_counts_the_trained_espcn_by_hand():
    from workloads.onnx_graph import graph_counts
    model = with_input_shape(load(SUBPIXEL), [1, 3, 128, 128])
    px = 128 * 128                                  # every conv keeps 128x128; MACs = pixels * C_out * C_in * K^2
    assert graph_counts(model).macs == px * (64 * 3 * 25 + 64 * 64 * 9 + 32 * 64 * 9 + 27 * 32 * 9)
