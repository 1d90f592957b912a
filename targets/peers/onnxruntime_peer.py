"""ONNX Runtime, CPU execution provider: the module exported by torch.onnx, run with ORT's own
graph optimisations (the transposed conv as one ConvTranspose)."""
from __future__ import annotations

import io
import warnings

OPSET = 17


def build(module, example, threads):
    import numpy as np
    import onnxruntime as ort
    import torch
    from targets.peers import Built
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buf, dynamo=False, opset_version=OPSET,
                          input_names=["x"], output_names=["y"])
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.inter_op_num_threads = 1
    if threads:
        opts.intra_op_num_threads = threads
    opts.enable_cpu_mem_arena = True
    opts.enable_mem_pattern = True
    opts.log_severity_level = 3
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    ops = sorted({n.op_type for n in __import__("onnx").load_from_string(buf.getvalue()).graph.node})

    def run(x):
        return torch.from_numpy(sess.run(None, {"x": np.ascontiguousarray(x.numpy())})[0])
    return Built(run, note="ONNX ops: " + ", ".join(ops))
