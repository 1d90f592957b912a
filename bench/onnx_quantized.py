"""The paper's quantized ESPCN models (QONNX, from the qonnx package): what deploying them costs in
precision, on the real BSD300 crop (prints; asserts nothing).

Both models are converted to standard QDQ by qonnx's own transformations (workloads/onnx_graph.py)
and deployed with IREE's ConvTranspose form. The deconvolution kernel is built from the quantized
weights (the float values they stand for):
  - sub-pixel: the weight shuffle is a permutation, so the kernel holds the very same integers;
    requantized to the original integer range it is unchanged;
  - nearest resize: the weight convolution sums up to r^2 of them, so the kernel needs about
    log2(r^2) more bits. Requantized to the original range (per output channel, symmetric, the
    same number of levels), the output moves; this script measures by how much, under onnxruntime's
    fake-quant semantics, against the quantized model as trained.

Usage: python bench/onnx_quantized.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from onnx import numpy_helper                                           # noqa: E402

from suite.verify import psnr                                           # noqa: E402
from workloads.onnx_deploy import deploy, find_patterns, fold_constant_dequantize   # noqa: E402
from workloads.onnx_graph import constant_value, load, read_tensor, run_ort, with_input_shape   # noqa: E402
from workloads.onnx_models import QONNX_ESPCN, qonnx_file               # noqa: E402


def integer_range(model, conv) -> tuple[int, int]:
    """The conv weights' integer range, from the Clip of their QuantizeLinear-Clip-DequantizeLinear chain."""
    producer = {o: n for n in model.graph.node for o in n.output}
    node = producer.get(conv.input[1])
    while node is not None:
        if node.op_type == "Clip":
            return int(constant_value(model, node.input[1])), int(constant_value(model, node.input[2]))
        node = producer.get(node.input[0])
    return -128, 127


def requantize(kernel: np.ndarray, lo: int, hi: int, axis: int) -> np.ndarray:
    """Symmetric per-channel requantization of a kernel onto ``lo..hi`` (what an int runtime would store)."""
    reduce = tuple(d for d in range(kernel.ndim) if d != axis)
    scale = np.abs(kernel).max(axis=reduce, keepdims=True) / max(abs(lo), hi)
    scale[scale == 0] = 1
    return (np.clip(np.round(kernel / scale), lo, hi) * scale).astype(np.float32)


def on_original_grid(kernel: np.ndarray, scales: np.ndarray, r: int, lo: int, hi: int) -> float:
    """The share of (output channel, phase) groups of the kernel that lie exactly on the integer grid of
    one of the original conv's channels (those r^2 channels became this output channel's phases)."""
    hits = total = 0
    for oc in range(kernel.shape[1]):
        own = scales[oc * r * r:(oc + 1) * r * r]
        for a in range(r):
            for b in range(r):
                g = kernel[:, oc, a::r, b::r].astype(np.float64)
                total += 1
                hits += any(np.allclose(g / s, np.round(g / s), atol=1e-3) and lo <= np.round(g / s).min()
                            and np.round(g / s).max() <= hi for s in own)
    return hits / total


def requantize_per_phase(kernel: np.ndarray, lo: int, hi: int, r: int) -> np.ndarray:
    """One scale per (output channel, kh mod r, kw mod r): a sub-pixel conv's per-channel scales are per
    (channel, phase) of the deconvolution, since each of its output channels becomes one phase."""
    out = np.empty_like(kernel)
    for a in range(r):
        for b in range(r):
            out[:, :, a::r, b::r] = requantize(kernel[:, :, a::r, b::r], lo, hi, axis=1)
    return out


def main() -> None:
    x = read_tensor(qonnx_file(f"{QONNX_ESPCN}/test_data/input_0.pb"))
    print("quantized ESPCN x3 models (qonnx), real BSD300 crop 1x3x128x128; onnxruntime, fake-quant semantics")
    for variant in ("subpixel", "nn_resize"):
        model = with_input_shape(load(qonnx_file(f"{QONNX_ESPCN}/{variant}/quant_model.onnx")), [1, 3, 128, 128])
        (m,), _ = find_patterns(fold_constant_dequantize(model))
        lo, hi = integer_range(model, m["conv"])
        d = deploy(model, "IREE", x)
        ref, exact = run_ort(model, x), run_ort(d.model, x)
        ct = next(n for n in d.model.graph.node if n.op_type == "ConvTranspose")
        init = next(t for t in d.model.graph.initializer if t.name == ct.input[1])
        kernel = numpy_helper.to_array(init)                                  # (C_in, C_out, Kd, Kd)
        levels = hi - lo + 1
        print(f"\n{variant}: {m['kind']} r {m['r']}, weights on {levels} levels [{lo}, {hi}] "
              f"({np.log2(levels):.0f} bits), deconvolution kernel {kernel.shape[2]}x{kernel.shape[3]}")
        print(f"  deployed, kernel as computed (float): max |diff| {np.abs(exact - ref).max():.4g}, "
              f"{(np.abs(exact - ref) > 1e-6).mean():.4%} of pixels differ (one output step where float sums "
              "round the other way)")
        if m["kind"] == "sub-pixel":
            producer = {o: n for n in model.graph.node for o in n.output}
            dq = producer[m["conv"].input[1]]
            scales = np.atleast_1d(constant_value(model, dq.input[1])).astype(np.float64)
            if scales.size == 1:
                scales = np.repeat(scales, m["w"].shape[0])
            print(f"  the shuffled kernel with the original scales: {on_original_grid(kernel, scales, m['r'], lo, hi):.0%} "
                  "of its (output channel, phase) groups are exactly on one original channel's integer grid, "
                  f"so it stores losslessly in {np.log2(levels):.0f} bits with a scale per output channel and phase")
        for how, requant in (("one scale per output channel", requantize(kernel, lo, hi, axis=1)),
                             ("one scale per output channel and phase",
                              requantize_per_phase(kernel, lo, hi, m["r"]))):
            init.CopyFrom(numpy_helper.from_array(requant, init.name))
            moved = run_ort(d.model, x)
            p = psnr(ref, moved.astype(np.float64) - ref)
            same = np.array_equal(requant, kernel)
            print(f"  requantized afresh (scale = max |w| / {hi}) to the original {levels} levels, {how}: kernel "
                  f"{'unchanged' if same else 'changed'}; max |diff| {np.abs(moved - ref).max():.4g}, "
                  f"{(np.abs(moved - ref) > 1e-6).mean():.2%} of pixels differ, "
                  f"PSNR {'exact' if p is None else f'{p:.1f} dB'} against the quantized model")


if __name__ == "__main__":
    main()
