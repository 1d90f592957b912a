"""ONNX models as the suite reads them: loaded with clear errors, given a static input shape, run by
onnxruntime (the reference every ONNX workload is verified against), imported into MLIR by IREE's
own importer. onnx and onnxruntime are an extra (scripts/install.sh installs them); without them
every entry point says so in one line."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from workloads.errors import UserError

MIN_OPSET, MAX_OPSET = 7, 23          # what iree-import-onnx and the rewrite handle here


def need(module: str):
    """Import an optional dependency, or a UserError saying how to get it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{module} is not installed: run scripts/install.sh (it installs the ONNX extra: "
                        "onnx, onnxruntime, qonnx)") from None


def load(path: Path | str):
    """A checked ModelProto, or one clear line saying why not."""
    onnx = need("onnx")
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(str(p))
    except Exception as e:                                   # noqa: BLE001 - protobuf's errors vary by version
        raise UserError(f"{p} is not an ONNX model (or it is truncated): {type(e).__name__}") from None
    if not model.graph.node:
        raise UserError(f"{p} is not an ONNX model: it has no graph nodes")
    if any(n.domain in QONNX_DOMAINS for n in model.graph.node):
        model = from_qonnx(model, p)
    try:
        onnx.checker.check_model(model)
    except Exception as e:                                   # noqa: BLE001
        raise UserError(f"{p} is not a valid ONNX model: {str(e).splitlines()[0][:200]}") from None
    opset = opset_of(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise UserError(f"{p} uses ONNX opset {opset}; the suite handles opsets {MIN_OPSET}-{MAX_OPSET}")
    return model


QONNX_DOMAINS = ("onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general")


def from_qonnx(model, where):
    """QONNX's Quant nodes (Brevitas exports) as standard QuantizeLinear-Clip-DequantizeLinear, by
    qonnx's own transformations, so that onnxruntime and IREE's importer can read the model. Their
    BatchNormalization nodes become Mul + Add (qonnx's BatchNormToAffine): IREE 3.13's importer does
    not lower an opset-13 BatchNormalization ("failed to legalize operation 'torch.operator'")."""
    need("qonnx")
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.batchnorm_to_affine import BatchNormToAffine
    from qonnx.transformation.qonnx_to_qcdq import QuantToQCDQ
    from qonnx.util.cleanup import cleanup_model
    try:
        converted = cleanup_model(ModelWrapper(model)).transform(BatchNormToAffine()).transform(QuantToQCDQ()).model
    except Exception as e:                                   # noqa: BLE001 - qonnx's errors vary
        raise UserError(f"{where}: its QONNX nodes could not be converted to standard ONNX: "
                        f"{type(e).__name__}: {str(e)[:200]}") from None
    left = sorted({f"{n.domain}.{n.op_type}" for n in converted.graph.node if n.domain in QONNX_DOMAINS})
    if left:
        raise UserError(f"{where}: {', '.join(left)} have no standard ONNX form (qonnx's QuantToQCDQ takes "
                        "Quant nodes of 2-8 bits only)")
    return converted


def opset_of(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def initializers(model) -> dict[str, np.ndarray]:
    from onnx import numpy_helper
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def constant_value(model, name: str) -> np.ndarray | None:
    """A tensor's value if it is an initializer or a Constant node's output (weights computed at run
    time have none)."""
    from onnx import numpy_helper
    for t in model.graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == name:
            for a in n.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
    return None


def data_input(model):
    """The graph's one real input: weights exported as graph inputs (older exporters) are initializers too."""
    inits = {t.name for t in model.graph.initializer}
    real = [i for i in model.graph.input if i.name not in inits]
    if len(real) != 1:
        raise UserError(f"the model has {len(real)} data inputs; the suite runs models with exactly one")
    return real[0]


def declared_shape(model) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in data_input(model).type.tensor_type.shape.dim]


def with_input_shape(model, shape: list[int] | None):
    """The model with a static input shape (``shape``, or the declared one if static) and every
    intermediate shape inferred from it; a dynamic shape without ``shape`` or a shape that does not
    fit is one clear line."""
    onnx = need("onnx")
    declared = declared_shape(model)
    if shape is None:
        if not all(isinstance(d, int) and d > 0 for d in declared):
            raise UserError(f"the model's input has a dynamic shape {declared}: give --input-shape N,C,H,W")
        shape = declared
    if len(shape) != len(declared):
        raise UserError(f"--input-shape {','.join(map(str, shape))} has {len(shape)} dimensions; the model's input "
                        f"has {len(declared)} ({declared})")
    for i, (want, have) in enumerate(zip(shape, declared)):
        if i == 1 and isinstance(have, int) and have > 0 and want != have:
            raise UserError(f"--input-shape: the model takes {have} channels, not {want}")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inp = data_input(m)
    for d, v in zip(inp.type.tensor_type.shape.dim, shape):
        d.Clear()
        d.dim_value = int(v)
    inits = {t.name for t in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name == inp.name or i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(keep)                          # weights are initializers only: ORT may fold them
    del m.graph.value_info[:]
    for o in m.graph.output:
        o.type.tensor_type.ClearField("shape")
    try:
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True, data_prop=True)
    except Exception as e:                                   # noqa: BLE001
        raise UserError(f"the input shape {list(shape)} does not fit the model: {str(e).splitlines()[0][:200]}") \
            from None
    return m


def shape_of(model, name: str) -> list[int] | None:
    for v in (*model.graph.value_info, *model.graph.input, *model.graph.output):
        if v.name == name and v.type.tensor_type.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
            return None if None in dims else dims
    return None


def run_ort(model, x: np.ndarray, threads: int | None = None) -> np.ndarray:
    """The model's output under onnxruntime's CPU provider (the reference of every ONNX workload)."""
    ort = need("onnxruntime")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node):
        # a QDQ model means its fake-quant float semantics (ONNX's definition); ORT's default fusion into
        # QLinearConv computes in int8 instead and differs by rounding (0.055 on the ESPCN quant model)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return sess.run(None, {data_input(model).name: x.astype(np.float32)})[0]
    except Exception as e:                                   # noqa: BLE001 - onnxruntime's errors are its own types
        raise UserError(f"onnxruntime could not run the model: {str(e).splitlines()[0][:300]}") from None


def to_iree_mlir(model) -> str:
    """MLIR from IREE's importer (iree-import-onnx), its entry renamed to @main as the runner calls it."""
    import re
    import shutil
    import sys
    tool = shutil.which("iree-import-onnx") or str(Path(sys.executable).parent / "iree-import-onnx")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "m.onnx", Path(tmp) / "m.mlir"
        src.write_bytes(model.SerializeToString())
        proc = subprocess.run([tool, str(src), "-o", str(out)], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            raise RuntimeError(f"iree-import-onnx failed: {(lines or ['?'])[-1][:300]}")
        text = out.read_text()
    names = re.findall(r"func\.func @([\w$.-]+)\(", text)
    if len(names) != 1:
        raise RuntimeError(f"iree-import-onnx made {len(names)} functions; expected one")
    return text.replace(f"func.func @{names[0]}(", "func.func @main(", 1)


def read_tensor(path: Path | str) -> np.ndarray:
    """A serialized TensorProto (.pb), as the ONNX model zoo ships test inputs."""
    onnx = need("onnx")
    from onnx import numpy_helper
    t = onnx.TensorProto()
    try:
        t.ParseFromString(Path(path).read_bytes())
        return numpy_helper.to_array(t)
    except Exception as e:                                   # noqa: BLE001
        raise UserError(f"{path} is not a serialized ONNX tensor: {type(e).__name__}") from None


def graph_counts(model):
    """The analytical model of a whole ONNX graph, as workloads/network_model.py counts a torch one:
    each Conv / ConvTranspose counts its MACs and moves input, weights and output; every other node
    moves its inputs and outputs; constants are not charged. Full accounting, no fusion assumed."""
    import math

    from workloads.counts import Counts, Traffic
    onnx = need("onnx")
    m = onnx.shape_inference.infer_shapes(model)
    consts = {t.name for t in m.graph.initializer} | {n.output[0] for n in m.graph.node if n.op_type == "Constant"}
    size = lambda name: math.prod(shape_of(m, name) or [0]) if name and name not in consts else 0  # noqa: E731
    macs, traffic = 0, []
    for n in m.graph.node:
        if n.op_type == "Constant":
            continue
        out = sum(size(o) for o in n.output)
        read = sum(size(i) for i in n.input)
        if n.op_type in ("Conv", "ConvTranspose"):
            w = constant_value(m, n.input[1])
            if w is not None:
                read += w.size
                # Conv: each output takes C_in/group * K^2 MACs (weight dim 1 is C_in/group);
                # ConvTranspose: each input pixel scatters C_out/group * K^2 (weight dim 1 is C_out/group)
                per = w.shape[1] * math.prod(w.shape[2:])
                macs += (out if n.op_type == "Conv" else size(n.input[0])) * per
        traffic += [Traffic(n.name or n.op_type, "activation", "read", read, True),
                    Traffic(n.name or n.op_type, "activation", "write", out, True)]
    return Counts(macs, tuple(traffic), 4, "ONNX graph: every node's inputs and outputs charged (no fusion assumed)")
