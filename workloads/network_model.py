"""The analytical model for whole networks: walk the traced graph with shapes; convolutions count
MACs = C_out * C_in/groups * K^2 * H_out * W_out and move input + weights + output; element-wise ops,
resizes and pixel shuffles move their input and output; a deployed deconvolution counts as the
paper's model counts its algorithm (workloads.counts.counts). All charged (full accounting)."""
from __future__ import annotations

import math

import torch
import torch.fx as fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

from workloads.counts import Counts, Traffic, counts as layer_counts
from workloads.deploy import DeconvLayer

_ELEMENTWISE = (nn.ReLU, nn.PReLU, nn.Tanh, nn.Sigmoid, nn.Upsample, nn.PixelShuffle)


def _numel(node) -> int:
    return math.prod(node.meta["tensor_meta"].shape) if isinstance(node, fx.Node) and "tensor_meta" in node.meta else 0


def network_counts(net: nn.Module, example: torch.Tensor) -> Counts:
    gm = fx.symbolic_trace(net)
    ShapeProp(gm).propagate(example)
    macs, traffic = 0, []

    def move(name: str, kind: str, read: int, written: int):
        traffic.extend([Traffic(name, kind, "read", read, True), Traffic(name, kind, "write", written, True)])

    for node in gm.graph.nodes:
        if node.op not in ("call_module", "call_function") or not node.args:
            continue
        src, out = node.args[0], _numel(node)
        m = gm.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(m, DeconvLayer) and m.model_key is not None:
            c = layer_counts(*m.model_key)
            macs += c.macs
            traffic.extend(Traffic(f"{node.name}: {t.tensor}", t.kind, t.direction, t.elements, True) for t in c.traffic)
        elif isinstance(m, nn.Conv2d) or node.target in (torch.conv2d, nn.functional.conv2d):
            w = m.weight if m is not None else getattr(gm, node.args[1].target)
            _, ci_per_group, kh, kw = w.shape                 # every output element: C_in/groups * K^2 MACs
            macs += out * ci_per_group * kh * kw
            move(node.name, "activation", _numel(src) + w.numel(), out)
        elif isinstance(m, _ELEMENTWISE) or node.op == "call_function" and _numel(src) and out:
            move(node.name, "activation", _numel(src), out)
    return Counts(macs, tuple(traffic), 4, "network: every node's input and output charged (no fusion assumed)")
