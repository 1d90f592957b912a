"""ONNX Runtime, CPU execution provider: the module exported by torch.onnx, run with ORT's own
graph optimisations (the transposed conv as one ConvTranspose)."""
from __future__ import annotations

import io
import warnings

OPSET = 17


def build(module, example, threads):
    import torch
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buf, dynamo=False, opset_version=OPSET,
                          input_names=["x"], output_names=["y"])
    return _built(buf.getvalue(), threads)


def build_onnx(model, example, threads):
    """An ONNX model as it is (a trained or deployed model file), under the same settings."""
    return _built(model.SerializeToString(), threads)


def _built(model_bytes: bytes, threads):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    from targets.peers import Built
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = threads
    opts.enable_cpu_mem_arena = True
    opts.enable_mem_pattern = True
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    ops = sorted({n.op_type for n in onnx.load_from_string(model_bytes).graph.node})

    def run(x):
        return torch.from_numpy(sess.run(None, {name: np.ascontiguousarray(x.numpy())})[0])
    return Built(run, note="ONNX ops: " + ", ".join(ops))
