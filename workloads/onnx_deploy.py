"""`suite deploy MODEL.onnx`: every sub-pixel and nearest-resize convolution of an ONNX graph
rewritten into the exact deconvolution, run by any algorithm that has a graph form.

Patterns (everything else is left alone, with the reason):
- sub-pixel: Conv -> [unary elementwise ops] -> DepthToSpace (CRD, or DCR: its channels are
  reordered to CRD first). The elementwise ops commute with the shuffle (a permutation), so they
  move after the deconvolution.
- nearest resize: Resize / Upsample by an integer factor r in nearest mode, whose coordinate
  transform and rounding reduce to plain nearest upsampling (out[y] = in[y div r]) on the model's
  sizes (see plain_nearest), -> [unary elementwise ops] -> Conv. The ops move before the deconvolution.
The conv must be 2-D, square, stride 1, dilation 1, group 1, with weights (and bias) that are
constants in the file. The deconvolution comes from workloads.transforms (phase-dependent bias kept
exact); its graph is the algorithm's torch form exported by torch.onnx at the model's opset, spliced
in under a prefix. The result is checked with onnx.checker and against the original under
onnxruntime on the example input and random ones.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np

from workloads.errors import UserError
from workloads.onnx_graph import constant_value, need, opset_of, run_ort, shape_of

OPSET_FLOOR = 17             # a deployed model's opset at least (see deploy)

# unary elementwise ops with no per-channel parameter: they commute with a permutation of channels
# and pixels (the shuffle) and with nearest upsampling (a copy of pixels)
COMMUTING = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid",
             "HardSwish", "Abs", "Neg", "Exp", "Clip", "Identity", "Celu", "Mish", "Gelu"}

COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")


def plain_nearest(ct: str, nm: str, r: int, length: int) -> bool:
    """Whether Resize with this coordinate transform and rounding, by the integer factor r along an
    axis of ``length`` pixels, is plain nearest upsampling: output y reads input y div r.

    Worked out for the exact sizes of the model at hand, in float32 as ONNX Runtime computes it,
    rather than from a table: half_pixel with any round_* is plain nearest for every size (its
    fraction stays inside (-1/2, 1/2)); asymmetric needs floor (round_prefer_floor only at r <= 2);
    tf_half_pixel_for_nn needs floor; align_corners coincides with it for some sizes only.
    """
    if ct not in COORDINATE_MODES:
        return False
    out = length * r
    y = np.arange(out, dtype=np.float32)
    scale = np.float32(r)
    if ct == "half_pixel" or (ct == "pytorch_half_pixel" and out > 1):
        x = (y + np.float32(0.5)) / scale - np.float32(0.5)
    elif ct == "pytorch_half_pixel":
        x = np.zeros_like(y)
    elif ct == "align_corners":
        x = y * np.float32(length - 1) / np.float32(out - 1) if out > 1 else np.zeros_like(y)
    elif ct == "asymmetric":
        x = y / scale
    else:                                                    # tf_half_pixel_for_nn
        x = (y + np.float32(0.5)) / scale
    frac = x - np.floor(x)
    if nm == "floor":
        idx = np.floor(x)
    elif nm == "ceil":
        idx = np.ceil(x)
    elif nm == "round_prefer_floor":
        idx = np.where(frac == np.float32(0.5), np.floor(x), np.round(x))
    elif nm == "round_prefer_ceil":
        idx = np.where(frac == np.float32(0.5), np.ceil(x), np.round(x))
    else:
        return False
    idx = np.clip(idx, 0, length - 1).astype(np.int64)
    return bool(np.array_equal(idx, np.arange(out) // r))


@dataclass
class Change:
    node: str                 # the conv's name
    pattern: str              # sub-pixel | nearest resize
    conv_shape: str           # C_in -> C_out', K
    r: int
    deconv_kernel: int
    algorithm: str
    moved: list[str] = field(default_factory=list)      # elementwise ops moved across


@dataclass
class Refusal:
    node: str
    op: str
    reason: str


@dataclass
class Deployed:
    model: object
    changes: list[Change]
    refused: list[Refusal]
    max_abs_err: float


def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


class _Graph:
    def __init__(self, model):
        self.model = model
        self.producer = {o: n for n in model.graph.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in model.graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.outputs = {o.name for o in model.graph.output}

    def only_consumer(self, tensor: str):
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 and tensor not in self.outputs else None


def _conv_ok(model, conv) -> tuple[str | None, np.ndarray | None, np.ndarray | None, tuple]:
    """(why not, weight, bias, pads) of a Conv the rewrite can take."""
    a = _attrs(conv)
    w = constant_value(model, conv.input[1])
    if w is None:
        return "its weights are computed at run time", None, None, ()
    if w.ndim != 4:
        return f"a {w.ndim - 2}-D convolution", None, None, ()
    if a.get("group", 1) != 1:
        return f"a grouped convolution (group {a['group']})", None, None, ()
    if any(s != 1 for s in a.get("strides", [1, 1])):
        return f"a strided convolution (strides {a['strides']})", None, None, ()
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        return f"a dilated convolution (dilations {a['dilations']})", None, None, ()
    if w.shape[2] != w.shape[3]:
        return f"a non-square kernel {w.shape[2]}x{w.shape[3]}", None, None, ()
    if _text(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
        return f"auto_pad {_text(a['auto_pad'])} (explicit pads only)", None, None, ()
    b = None
    if len(conv.input) > 2 and conv.input[2]:
        b = constant_value(model, conv.input[2])
        if b is None:
            return "its bias is computed at run time", None, None, ()
    p = a.get("pads", [0, 0, 0, 0])
    return None, w, b, (p[0], p[2], p[1], p[3])                 # ONNX (t, l, b, r) -> (t, b, l, r)


def _resize_factor(model, node, x_shape: list[int] | None) -> tuple[int | None, str]:
    """(r, "") for a plain nearest integer upsampling, else (None, why not)."""
    a = _attrs(node)
    if _text(a.get("mode", "nearest")) != "nearest":
        return None, f"mode {_text(a.get('mode'))} (only nearest is a deconvolution)"
    if node.op_type == "Upsample":
        scales = a.get("scales")
        x_shape = x_shape or [1, 1, 1, 1]                 # asymmetric floor: plain nearest at every size
        if scales is None and len(node.input) > 1:
            v = constant_value(model, node.input[1])
            scales = None if v is None else v.tolist()
        ct, nm = "asymmetric", "floor"                            # Upsample is asymmetric floor by definition
    else:
        if a.get("axes") is not None or _text(a.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
            return None, "axes / keep_aspect_ratio_policy are not supported"
        ct = _text(a.get("coordinate_transformation_mode", "half_pixel"))
        nm = _text(a.get("nearest_mode", "round_prefer_floor"))
        scales = None
        if len(node.input) > 2 and node.input[2]:
            v = constant_value(model, node.input[2])
            scales = None if v is None or v.size == 0 else v.tolist()
        if scales is None and len(node.input) > 3 and node.input[3]:
            sizes = constant_value(model, node.input[3])
            if sizes is None or x_shape is None:
                return None, "its output size is computed at run time"
            scales = [s / d for s, d in zip(sizes.tolist(), x_shape)]
    if scales is None:
        return None, "its scales are computed at run time"
    if len(scales) != 4 or scales[0] != 1 or scales[1] != 1:
        return None, f"scales {scales} also resize the batch or channel axis"
    if scales[2] != scales[3]:
        return None, f"different factors per axis {scales[2:]}"
    r = scales[2]
    if r != int(r) or r < 1:
        return None, f"a non-integer factor {r:g}"
    r = int(r)
    if x_shape is None:
        return None, "its input's shape is unknown (give --input-shape)"
    if not all(plain_nearest(ct, nm, r, n) for n in x_shape[2:]):
        return None, (f"coordinate_transformation_mode {ct} with nearest_mode {nm} is not plain nearest "
                      f"upsampling at factor {r} on {x_shape[2]}x{x_shape[3]}")
    return r, ""


def find_patterns(model):
    """(matches, refusals). A match: dict(kind, nodes to remove, conv, r, chain, x, y, weights...)."""
    g = _Graph(model)
    matches, refused, used = [], [], set()
    for node in model.graph.node:
        if node.op_type == "DepthToSpace":
            chain, t = [], node.input[0]
            prod = g.producer.get(t)
            while prod is not None and prod.op_type in COMMUTING and g.only_consumer(prod.output[0]):
                chain.insert(0, prod)
                prod = g.producer.get(prod.input[0])
            if prod is None or prod.op_type != "Conv":
                refused.append(Refusal(node.name, node.op_type, "not fed by a convolution (through elementwise "
                                                                "ops that commute with it)"))
                continue
            if g.only_consumer(prod.output[0]) is None:
                refused.append(Refusal(node.name, node.op_type, f"the conv {prod.name}'s output has other users"))
                continue
            why, w, b, pads = _conv_ok(model, prod)
            if why:
                refused.append(Refusal(prod.name, "Conv", why))
                continue
            a = _attrs(node)
            r, mode = a["blocksize"], _text(a.get("mode", "DCR"))
            matches.append(dict(kind="sub-pixel", conv=prod, nodes=[prod, *chain, node], chain=chain,
                                x=prod.input[0], y=node.output[0], w=w, b=b, pads=pads, r=r, order=mode))
            used.update(n.name for n in (prod, *chain, node))
        elif node.op_type in ("Resize", "Upsample"):
            r, why = _resize_factor(model, node, shape_of(model, node.input[0]))
            if r is None:
                refused.append(Refusal(node.name, node.op_type, why))
                continue
            chain, t = [], node.output[0]
            user = g.only_consumer(t)
            while user is not None and user.op_type in COMMUTING:
                chain.append(user)
                user = g.only_consumer(user.output[0])
            if user is None or user.op_type != "Conv" or user.input[0] != (chain[-1].output[0] if chain else t):
                refused.append(Refusal(node.name, node.op_type, "its output does not feed one convolution only"))
                continue
            why, w, b, pads = _conv_ok(model, user)
            if why:
                refused.append(Refusal(user.name, "Conv", why))
                continue
            matches.append(dict(kind="nearest resize", conv=user, nodes=[node, *chain, user], chain=chain,
                                x=node.input[0], y=user.output[0], w=w, b=b, pads=pads, r=r, order=None))
            used.update(n.name for n in (node, *chain, user))
    return matches, refused


def _dcr_to_crd(w: np.ndarray, b: np.ndarray | None, r: int):
    """Reorder a conv's output channels from DepthToSpace DCR order ((a*r + b)*C + c) to CRD (c*r*r + a*r + b)."""
    c = w.shape[0] // (r * r)
    idx = np.array([(a * r + bb) * c + ch for ch in range(c) for a in range(r) for bb in range(r)])
    return w[idx], (None if b is None else b[idx])


def _deconv(m: dict):
    import torch
    from workloads.transforms import resize_to_deconv, subpixel_to_deconv
    w, b = m["w"], m["b"]
    if m["kind"] == "sub-pixel":
        if m["order"] == "DCR":
            w, b = _dcr_to_crd(w, b, m["r"])
        return subpixel_to_deconv(torch.from_numpy(w.copy()), None if b is None else torch.from_numpy(b.copy()),
                                  m["r"], m["pads"])
    return resize_to_deconv(torch.from_numpy(w.copy()), None if b is None else torch.from_numpy(b.copy()),
                            m["r"], m["pads"])


def _subgraph(d, shape: list[int], algorithm: str, opset: int, prefix: str):
    """The algorithm's torch form of the deconvolution, exported to ONNX, names prefixed."""
    import torch
    onnx = need("onnx")
    from workloads.algorithms import ALGORITHMS
    module = ALGORITHMS[algorithm].lower(d, shape[0], shape[2], shape[3]).module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(shape),), buf, dynamo=False, opset_version=opset,
                          input_names=["x"], output_names=["y"], do_constant_folding=True)
    sub = _fold(onnx.load_from_string(buf.getvalue()))
    rename = {}
    for n in sub.graph.node:
        n.name = prefix + (n.name or n.op_type)
        for i, name in enumerate(n.input):
            if name and name != "x":
                n.input[i] = rename.setdefault(name, prefix + name)
        for i, name in enumerate(n.output):
            if name != "y":
                n.output[i] = rename.setdefault(name, prefix + name)
    for t in sub.graph.initializer:
        t.name = rename.setdefault(t.name, prefix + t.name)
    _inline_small_ints(sub)
    _expand_crd_depth_to_space(sub)
    return sub


def _expand_crd_depth_to_space(model) -> None:
    """DepthToSpace in CRD mode as ONNX defines it (Reshape, Transpose, Reshape). IREE 3.13 lowers a
    CRD DepthToSpace wrongly unless C_out == r (bench/repro/onnx_depthtospace_crd.py); the explicit
    form it compiles right. Shapes are static here, so the reshapes are constants."""
    onnx = need("onnx")
    from onnx import helper, numpy_helper
    model_shapes = onnx.shape_inference.infer_shapes(model)
    nodes = []
    for n in model.graph.node:
        a = _attrs(n)
        if n.op_type != "DepthToSpace" or _text(a.get("mode", "DCR")) != "CRD":
            nodes.append(n)
            continue
        b, c, h, w = shape_of(model_shapes, n.input[0])
        r = a["blocksize"]
        s1, s2 = n.name + "_crd_shape6", n.name + "_crd_shape4"
        t6, tt = n.name + "_crd_6d", n.name + "_crd_t"
        nodes += [
            helper.make_node("Constant", [], [s1], value=numpy_helper.from_array(
                np.array([b, c // (r * r), r, r, h, w], np.int64), s1)),
            helper.make_node("Constant", [], [s2], value=numpy_helper.from_array(
                np.array([b, c // (r * r), h * r, w * r], np.int64), s2)),
            helper.make_node("Reshape", [n.input[0], s1], [t6], name=n.name + "_crd_reshape6"),
            helper.make_node("Transpose", [t6], [tt], perm=[0, 1, 4, 2, 5, 3], name=n.name + "_crd_transpose"),
            helper.make_node("Reshape", [tt, s2], [n.output[0]], name=n.name + "_crd_reshape4")]
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _inline_small_ints(model, most: int = 64) -> None:
    """Small integer initializers (slice bounds, pads, shapes) as Constant nodes: IREE 3.13's ONNX
    importer turns initializers into dense_resource constants, which its Slice/Pad lowerings do not
    read as constant lists ("failed to legalize operation 'torch.operator'"); Constant nodes it does."""
    onnx = need("onnx")
    small = [t for t in model.graph.initializer
             if t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and np.prod(t.dims) <= most]
    consts = [onnx.helper.make_node("Constant", [], [t.name], name=f"{t.name}_const", value=t) for t in small]
    names = {t.name for t in small}
    keep = [t for t in model.graph.initializer if t.name not in names]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    nodes = consts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _fold(model):
    """Constant-fold an exported subgraph with onnxruntime's basic (standard-op) optimizations: the
    torch exporter computes pads and slice bounds from Shape ops at run time, which IREE's importer
    cannot type; with the shapes static they all fold to constants."""
    import tempfile
    ort = need("onnxruntime")
    onnx = need("onnx")
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/folded.onnx"
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = out
        opts.log_severity_level = 3
        ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        folded = onnx.load(out)
    return folded


def deploy(model, algorithm: str = "IREE", example: np.ndarray | None = None, checks: int = 3,
           atol: float = 1e-4) -> Deployed:
    """The model with every upsampling convolution replaced by its deconvolution run by ``algorithm``;
    a UserError when nothing can be rewritten or the result is not the original's output."""
    onnx = need("onnx")
    from workloads.algorithms import TORCH_ALGORITHMS, algorithm as lookup
    name = lookup(algorithm).name
    if name not in TORCH_ALGORITHMS:
        raise UserError(f"deploy: algorithm {name} has no graph form (choose from {', '.join(TORCH_ALGORITHMS)})")
    original = model
    matches, _ = find_patterns(fold_constant_dequantize(model))
    # the rewritten convs' quantized weights as the float values they stand for (exact); the rest stays quantized
    model = fold_constant_dequantize(model, {i for m in matches for i in m["conv"].input[1:] if i})
    matches, refused = find_patterns(model)
    if not matches:
        return Deployed(None, [], refused, 0.0)
    opset = opset_of(model)
    if opset < OPSET_FLOOR:
        # IREE 3.13's importer lowers Slice (which the algorithms' graphs use) only from opset 13 on; the
        # converted model is checked against the original under onnxruntime like the rewrite itself
        from onnx import version_converter
        model = version_converter.convert_version(model, OPSET_FLOOR)
        opset = OPSET_FLOOR
    out = onnx.ModelProto()
    out.CopyFrom(model)
    drop = {id_ for m in matches for id_ in (n.name for n in m["nodes"])}
    new_nodes, inits, changes = [], [], []
    done_convs = set()
    for node in model.graph.node:
        m = next((m for m in matches if m["conv"].name == node.name), None)
        if m is not None and m["conv"].name not in done_convs:
            done_convs.add(m["conv"].name)
            prefix = f"deploy{len(changes)}_"
            x_shape = shape_of(model, m["x"])
            if x_shape is None:
                raise UserError(f"deploy: the shape of {m['x']} is unknown (give --input-shape)")
            d = _deconv(m)
            x_in, y_out = m["x"], m["y"]
            chain = [onnx.NodeProto() for _ in m["chain"]]
            for c, orig in zip(chain, m["chain"]):
                c.CopyFrom(orig)
            if m["kind"] == "nearest resize" and chain:          # elementwise ops move before the deconvolution
                chain[0].input[0] = x_in
                for a, b in zip(chain, chain[1:]):
                    b.input[0] = a.output[0]
                new_nodes += chain
                x_in = chain[-1].output[0]
            deconv_out = y_out
            if m["kind"] == "sub-pixel" and chain:                # ... or after it
                deconv_out = prefix + "out"
                chain[0].input[0] = deconv_out
                chain[-1].output[0] = y_out
            sub = _subgraph(d, x_shape, name, opset, prefix)
            for n in sub.graph.node:
                n.input[:] = [x_in if i == "x" else i for i in n.input]
                n.output[:] = [deconv_out if o == "y" else o for o in n.output]
            new_nodes += list(sub.graph.node)
            inits += list(sub.graph.initializer)
            if m["kind"] == "sub-pixel" and chain:
                new_nodes += chain
            w = m["w"]
            changes.append(Change(m["conv"].name, m["kind"], f"{w.shape[1]} -> {w.shape[0]}, K {w.shape[2]}",
                                  m["r"], d.kernel, name, [n.op_type for n in m["chain"]]))
        elif node.name not in drop or not node.name:
            if node.name in drop:
                continue
            new_nodes.append(node)
    del out.graph.node[:]
    out.graph.node.extend(new_nodes)
    out.graph.initializer.extend(inits)
    del out.graph.value_info[:]
    _drop_unused_initializers(out)
    out = onnx.shape_inference.infer_shapes(out)
    try:
        onnx.checker.check_model(out, full_check=True)
    except Exception as e:                                   # noqa: BLE001
        raise UserError(f"deploy: the rewritten model does not pass onnx.checker: {str(e).splitlines()[0][:200]}") \
            from None
    worst = verify(original, out, example, checks, atol)
    return Deployed(out, changes, refused, worst)


FOLDABLE = ("QuantizeLinear", "Clip", "DequantizeLinear", "Cast", "Identity")


def fold_constant_dequantize(model, only: set[str] | None = None):
    """Quantized weights (QuantizeLinear -> Clip -> DequantizeLinear of a constant, as qonnx's QCDQ
    writes them) folded into the float values they stand for, by ONNX's reference evaluator. Exact:
    they are the values the quantized model computes with. A sub-pixel deconvolution's kernel is then
    a permutation of those very values (still on the int grid); a resize deconvolution's sums up to
    r^2 of them, which the original bit width cannot hold (bench/onnx_quantized.py measures what
    requantizing costs). The rewrite is then verified against the quantized original like any other.
    ``only``: fold just the chains producing these tensors (the rewritten convs' weights), so the rest
    of the model keeps its quantized form."""
    onnx = need("onnx")
    from onnx import helper, numpy_helper
    from onnx.reference import ReferenceEvaluator
    out = onnx.ModelProto()
    out.CopyFrom(model)
    allowed = None
    if only is not None:
        producer = {o: n for n in out.graph.node for o in n.output}
        allowed, todo = set(), list(only)
        while todo:
            node = producer.get(todo.pop())
            if node is not None and node.name + node.output[0] not in allowed:
                allowed.add(node.name + node.output[0])
                todo += [i for i in node.input if i]
    keep, folded = [], 0
    for n in out.graph.node:
        vals = [constant_value(out, i) if i else None for i in n.input]
        if n.op_type in FOLDABLE and n.input and all(v is not None for i, v in zip(n.input, vals) if i) and \
                (allowed is None or n.name + n.output[0] in allowed):
            names = [i for i in n.input if i]
            graph = helper.make_graph([n], "fold", [], [helper.make_tensor_value_info(n.output[0], 0, None)],
                                      [numpy_helper.from_array(v, i) for i, v in zip(n.input, vals) if i])
            # evaluated at opset 19, the oldest the reference evaluator implements Q/DQ at (same semantics
            # as 13 for these per-tensor and per-axis forms; the result is verified under onnxruntime)
            m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
            (value,) = ReferenceEvaluator(m).run(None, {})
            out.graph.initializer.append(numpy_helper.from_array(np.asarray(value), n.output[0]))
            folded += 1 if names else 0
        else:
            keep.append(n)
    if not folded:
        return model
    del out.graph.node[:]
    out.graph.node.extend(keep)
    _drop_unused_initializers(out)
    return out


def _drop_unused_initializers(model) -> None:
    used = {i for n in model.graph.node for i in n.input}
    keep = [t for t in model.graph.initializer if t.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)
    ins = [i for i in model.graph.input if i.name in used or i.name in {o.name for o in model.graph.output}]
    del model.graph.input[:]
    model.graph.input.extend(ins)


def verify(original, deployed, example: np.ndarray | None, n: int, atol: float) -> float:
    """Max |difference| of the two models under onnxruntime over the example and random inputs."""
    from workloads.onnx_graph import data_input
    shape = [d.dim_value for d in data_input(original).type.tensor_type.shape.dim]
    rng = np.random.default_rng(1234)
    xs = ([example] if example is not None else []) + [rng.random(shape, dtype=np.float32) for _ in range(n)]
    worst, scale = 0.0, 1.0
    step = _output_step(original)
    for x in xs:
        a, b = run_ort(original, x), run_ort(deployed, x)
        if a.shape != b.shape:
            raise UserError(f"deploy: the deployed model's output shape {b.shape} != {a.shape}")
        diff = float(np.abs(a.astype(np.float64) - b).max())
        if not np.isfinite(diff):
            raise UserError("deploy: the original or the deployed model outputs NaN or Inf")
        worst, scale = max(worst, diff), max(scale, float(np.abs(a).max()))
    # a quantized output may flip by one step where the float sums before it are added in another order
    tol = max(atol * scale, step * (1 + 1e-6))
    if worst > tol:
        raise UserError(f"deploy: the deployed model differs from the original by {worst:.3g} (> {tol:.3g})")
    return worst


def _output_step(model) -> float:
    """One quantization step of the model's output, if a DequantizeLinear produces it (else 0)."""
    out = model.graph.output[0].name
    node = next((n for n in model.graph.node if out in n.output), None)
    if node is None or node.op_type != "DequantizeLinear":
        return 0.0
    scale = constant_value(model, node.input[1])
    return float(np.max(scale)) if scale is not None else 0.0
