"""Model source: ONNX files. A trained model and each of its deployed variants are workloads the
runner treats like any other: their MLIR comes from IREE's own ONNX importer, their reference is
the trained model under onnxruntime on the same input, their input is a real image where the model
comes with one.

The catalogue entry ``espcn-bsd300`` is the paper's case study as its first author trained it: the
sub-pixel and the nearest-resize ESPCN x3 float models on BSD300 that the ``qonnx`` package ships,
with the BSD300 crop it ships as test input. They are read from the installed package at run
time, never copied into this repository.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads.errors import UserError

# name -> (description, [(variant, path inside the qonnx package, input shape, test input inside the package)])
QONNX_ESPCN = "data/onnx/bsd300x3-espcn"
def _espcn_bsd300(kind: str) -> list[tuple]:
    """Both ESPCN variants of the qonnx package, one kind (float or quant), at the real crop's size."""
    return [(v, f"{QONNX_ESPCN}/{v}/{kind}_model.onnx", (1, 3, 128, 128), f"{QONNX_ESPCN}/test_data/input_0.pb")
            for v in ("subpixel", "nn_resize")]


ONNX_NETWORKS = {
    "espcn-bsd300": ("the paper's ESPCN x3, trained on BSD300 by its first author (qonnx package), on a BSD300 "
                     "crop", _espcn_bsd300("float")),
    "espcn-bsd300-quant": ("the same, quantized with Brevitas (QONNX Quant nodes, converted to "
                           "QuantizeLinear/DequantizeLinear by qonnx)", _espcn_bsd300("quant")),
}


def qonnx_file(relative: str) -> Path:
    from workloads.onnx_graph import need
    qonnx = need("qonnx")
    path = Path(qonnx.__file__).parent / relative
    if not path.is_file():
        raise UserError(f"the installed qonnx {getattr(qonnx, '__version__', '')} has no {relative}")
    return path


@functools.lru_cache(maxsize=16)
def _trained(path: str, shape: tuple[int, ...]):
    from workloads.onnx_graph import load, with_input_shape
    return with_input_shape(load(path), list(shape))


@functools.lru_cache(maxsize=64)
def _deployed(path: str, shape: tuple[int, ...], algorithm: str, image: str | None):
    from workloads.onnx_deploy import deploy
    example = _image(image, shape) if image else None
    d = deploy(_trained(path, shape), algorithm, example)
    if d.model is None:
        raise UserError(f"{path}: no sub-pixel or nearest-resize convolution to deploy")
    return d


def _image(image: str, shape: tuple[int, ...]) -> np.ndarray:
    from workloads.onnx_graph import read_tensor
    x = read_tensor(image).astype(np.float32)
    if tuple(x.shape) != tuple(shape):
        raise UserError(f"the test input {image} is {list(x.shape)}, the model runs {list(shape)}")
    return x


@dataclass(frozen=True)
class OnnxWorkload:
    """An ONNX model as trained, or deployed with one algorithm; verified against onnxruntime."""
    name: str                           # the model's display name
    path: str
    shape: tuple[int, ...]
    method: str                         # "trained" | "deployed"
    algorithm: str | None = None
    image: str | None = None            # a real input shipped with the model (TensorProto)

    @property
    def layer(self):
        from workloads.networks import NetworkInfo      # a network's grouping and naming, for files too
        return NetworkInfo(f"onnx-{self.name}-{'x'.join(map(str, self.shape))}", self.name)

    @property
    def id(self) -> str:
        return "/".join(p for p in (self.layer.id, self.method, self.algorithm) if p)

    reference_method = "trained"

    @property
    def output_step(self) -> float:
        """One quantization step of the output of a quantized (QDQ) model, else 0: verification allows
        a flip of one step (see suite.verify)."""
        from workloads.onnx_deploy import _output_step
        return _output_step(_trained(self.path, self.shape))

    def input(self, seed: int):
        import torch
        if self.image:
            return torch.from_numpy(_image(self.image, self.shape))
        return torch.from_numpy(np.random.default_rng(seed).random(self.shape, dtype=np.float32))

    def reference(self, x, seed: int):
        import torch
        from workloads.onnx_graph import run_ort
        return torch.from_numpy(run_ort(_trained(self.path, self.shape), x.numpy()))

    def model(self):
        if self.method == "trained":
            return _trained(self.path, self.shape)
        return _deployed(self.path, self.shape, self.algorithm, self.image).model

    def lowering(self, seed: int):
        from workloads.algorithms import Lowering
        from workloads.onnx_graph import to_iree_mlir
        return Lowering(mlir=to_iree_mlir(self.model()), input_type="onnx")


def model_workloads(path: str, shape: list[int] | None, algorithms: list[str] | None = None, name: str | None = None,
                    image: str | None = None) -> list[OnnxWorkload]:
    """The model as trained and deployed with each algorithm that has a graph form; checked now
    (a bad file, a shape that does not fit: one clear line before any work)."""
    from workloads.algorithms import TORCH_ALGORITHMS, algorithm
    from workloads.onnx_deploy import find_patterns, fold_constant_dequantize
    from workloads.onnx_graph import data_input, load, with_input_shape
    static = with_input_shape(load(path), list(shape) if shape else None)   # dynamic and no shape: a clear line
    shape = tuple(d.dim_value for d in data_input(static).type.tensor_type.shape.dim)
    trained = _trained(str(path), shape)
    name = name or Path(path).stem
    out = [OnnxWorkload(name, str(path), shape, "trained", None, image)]
    matches, _ = find_patterns(fold_constant_dequantize(trained))     # quantized weights count as constants
    if not matches:
        return out
    algos = [algorithm(a).name for a in algorithms] if algorithms else list(TORCH_ALGORITHMS)
    return out + [OnnxWorkload(name, str(path), shape, "deployed", a, image) for a in algos if a in TORCH_ALGORITHMS]


def network_workloads(name: str, algorithms: list[str] | None = None) -> list[OnnxWorkload]:
    _, variants = ONNX_NETWORKS[name]
    out = []
    for variant, rel, shape, image in variants:
        out += model_workloads(str(qonnx_file(rel)), list(shape), algorithms, f"{name}-{variant}",
                               str(qonnx_file(image)) if image else None)
    return out
