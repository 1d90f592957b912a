"""Deploy: transform a trained network once -- every sub-pixel convolution (Conv2d -> PixelShuffle)
and every nearest-neighbour resize convolution (Upsample/interpolate nearest -> Conv2d), in module
or functional form -- into the equivalent deconvolution, run by a chosen algorithm per layer.

The graph is rewritten with torch.fx; each match is transformed with the exact kernel transforms,
anything that cannot be transformed exactly (bilinear, a non-integer scale, a strided or grouped
conv, a conv output used elsewhere, weights that are not constants) is left alone with the reason,
and the new network is verified against the old one on random inputs before it is returned.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from workloads.errors import UserError
from workloads.algorithms import ALGORITHMS, TORCH_ALGORITHMS, algorithm
from workloads.transforms import resize_to_deconv, subpixel_to_deconv



@dataclass
class LayerChange:
    node: str
    pattern: str                       # "sub-pixel" | "nearest resize"
    conv: str
    in_shape: tuple
    out_shape: tuple
    kernel: int
    r: int
    deconv_kernel: int
    crop: tuple
    algorithm: str


@dataclass
class Refusal:
    node: str
    reason: str


@dataclass
class Deployed:
    module: fx.GraphModule
    changes: list[LayerChange] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    max_abs_err: float | None = None


class DeconvLayer(nn.Module):
    """A deployed deconvolution: the chosen algorithm's module, for one input size."""

    def __init__(self, inner: nn.Module, name: str, model_key: tuple | None = None):
        super().__init__()
        self.inner, self.label = inner, name
        self.model_key = model_key          # (LayerConfig, method, algorithm) for the analytical model

    def forward(self, x):
        return self.inner(x)


def _is(node: fx.Node, gm: fx.GraphModule, module_type, functions) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), module_type)
    return node.op == "call_function" and node.target in functions


def _conv_params(node: fx.Node, gm: fx.GraphModule):
    """(weight, bias, padding, why-not) of a Conv2d / F.conv2d node."""
    if node.op == "call_module":
        conv = gm.get_submodule(node.target)
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
            return None, None, None, "conv is strided, dilated or grouped"
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            return None, None, None, f"conv padding {conv.padding!r}/{conv.padding_mode} is not explicit zeros"
        return conv.weight.detach(), None if conv.bias is None else conv.bias.detach(), conv.padding, ""
    args = list(node.args) + [None] * 7
    kw = node.kwargs
    w, b = args[1], kw.get("bias", args[2])
    stride, padding = kw.get("stride", args[3] or 1), kw.get("padding", args[4] or 0)
    dilation, groups = kw.get("dilation", args[5] or 1), kw.get("groups", args[6] or 1)
    if stride not in (1, (1, 1), [1, 1]) or dilation not in (1, (1, 1), [1, 1]) or groups != 1:
        return None, None, None, "conv is strided, dilated or grouped"
    consts = []
    for v in (w, b):
        if v is None:
            consts.append(None)
        elif isinstance(v, fx.Node) and v.op == "get_attr":
            consts.append(_attr(gm, v.target).detach())
        else:
            return None, None, None, "conv weights are computed, not constants"
    if isinstance(padding, str):
        return None, None, None, f"conv padding {padding!r} is not explicit"
    pad = (padding, padding) if isinstance(padding, int) else tuple(padding)
    return consts[0], consts[1], pad, ""


def _attr(gm, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _shuffle_factor(node: fx.Node, gm: fx.GraphModule) -> int:
    if node.op == "call_module":
        return gm.get_submodule(node.target).upscale_factor
    return node.args[1] if len(node.args) > 1 else node.kwargs["upscale_factor"]


def _nearest_factor(node: fx.Node, gm: fx.GraphModule) -> tuple[int | None, str]:
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        mode, scale, size = m.mode, m.scale_factor, m.size
    else:
        kw = node.kwargs
        args = list(node.args) + [None] * 3
        size, scale, mode = kw.get("size", args[1]), kw.get("scale_factor", args[2]), kw.get("mode", args[3] or "nearest")
    if mode != "nearest":
        return None, f"{mode} resize has no exact deconvolution (only nearest does)"
    if size is not None or scale is None:
        return None, "resize by output size, not by an integer scale factor"
    scales = set(scale) if isinstance(scale, (tuple, list)) else {scale}
    if len(scales) != 1 or float(next(iter(scales))) != int(next(iter(scales))) or int(next(iter(scales))) < 1:
        return None, f"scale factor {scale} is not one integer"
    return int(next(iter(scales))), ""


def deploy(model: nn.Module, example: torch.Tensor, algorithms: str | dict[str, str] = "REVD",
           verify_inputs: int = 3, atol: float = 1e-4) -> Deployed:
    """Transform every exact pattern in ``model``; ``algorithms`` is one name or {node name: name}."""
    names = algorithms if isinstance(algorithms, dict) else {}
    default = algorithms if isinstance(algorithms, str) else "REVD"
    for a in [default, *names.values()]:
        if algorithm(a).name not in TORCH_ALGORITHMS:
            raise UserError(f"deploy: algorithm {a} has no torch form (choose from {', '.join(TORCH_ALGORITHMS)})")
    model = model.eval()
    gm = fx.symbolic_trace(model)
    ShapeProp(gm).propagate(example)
    out = Deployed(gm)
    for node in list(gm.graph.nodes):
        conv_like = _is(node, gm, nn.Conv2d, (F.conv2d, torch.conv2d))
        if _is(node, gm, nn.PixelShuffle, (F.pixel_shuffle, torch.pixel_shuffle)):
            producer = node.args[0]
            if not (isinstance(producer, fx.Node) and _is(producer, gm, nn.Conv2d, (F.conv2d, torch.conv2d))):
                continue
            _replace(gm, out, "sub-pixel", conv=producer, first=producer, last=node, r=_shuffle_factor(node, gm),
                     names=names, default=default)
        elif conv_like:
            producer = node.args[0]
            if isinstance(producer, fx.Node) and _is(producer, gm, nn.Upsample, (F.interpolate, F.upsample)):
                r, why = _nearest_factor(producer, gm)
                if r is None:
                    out.refused.append(Refusal(f"{producer.name} -> {node.name}", why))
                    continue
                _replace(gm, out, "nearest resize", conv=node, first=producer, last=node, r=r, names=names,
                         default=default)
    gm.graph.eliminate_dead_code()
    gm.recompile()
    out.max_abs_err = verify(model, gm, example, verify_inputs, atol)
    return out


def _replace(gm, out: Deployed, pattern: str, conv, first, last, r: int, names, default) -> None:
    label = f"{first.name} -> {last.name}" if first is not last else last.name
    w, b, padding, why = _conv_params(conv, gm)
    if why:
        out.refused.append(Refusal(label, why))
        return
    inner_nodes = {first, conv, last}
    for n in (first, conv):
        if n is not last and any(u not in inner_nodes for u in n.users):
            out.refused.append(Refusal(label, f"{n.name}'s output is also used elsewhere"))
            return
    x = first.args[0]
    shape = tuple(x.meta["tensor_meta"].shape)
    ph, pw = padding
    pads = (ph, ph, pw, pw)
    w, b = w.double(), None if b is None else b.double()
    d = subpixel_to_deconv(w, b, r, pads) if pattern == "sub-pixel" else resize_to_deconv(w, b, r, pads)
    d = type(d)(d.weight.float(), d.stride, d.crop, None if d.bias is None else d.bias.float())
    alg = algorithm(names.get(last.name, names.get(first.name, default))).name
    module = DeconvLayer(ALGORITHMS[alg].lower(d, shape[0], shape[2], shape[3]).module, f"{pattern} {label}",
                         _model_key(w, b, shape, r, pads, pattern, alg))
    target = f"deployed_{last.name}"
    gm.add_submodule(target, module)
    with gm.graph.inserting_after(last):
        new = gm.graph.call_module(target, (x,))
    new.meta = dict(last.meta)                     # same output as the pattern it replaces: same shape
    last.replace_all_uses_with(new)
    for n in (last, conv, first):
        if n in gm.graph.nodes and not n.users:
            gm.graph.erase_node(n)
    out.changes.append(LayerChange(label, pattern, conv.name, shape, tuple(last.meta["tensor_meta"].shape),
                                   w.shape[-1], r, d.kernel, d.crop, alg))


def _model_key(w, b, shape, r, pads, pattern, alg):
    from workloads.layer import LayerConfig
    cout = w.shape[0] // (r * r) if pattern == "sub-pixel" else w.shape[0]
    try:
        layer = LayerConfig(cin=w.shape[1], cout=cout, h=shape[2], w=shape[3], k=w.shape[-1], r=r, batch=shape[0],
                            pad=pads, bias=b is not None)
    except UserError:                       # e.g. padding beyond K-1: no model for this layer
        return None
    return (layer, "D-SP" if pattern == "sub-pixel" else "D-NN", alg)


def verify(old: nn.Module, new: nn.Module, example: torch.Tensor, n: int, atol: float) -> float:
    """Max abs difference over the example and n-1 random inputs; refuses (raises) beyond atol."""
    gen = torch.Generator().manual_seed(1234)
    worst = 0.0
    with torch.no_grad():
        for i in range(n):
            x = example if i == 0 else torch.randn(example.shape, generator=gen)
            a, b = old(x), new(x)
            if a.shape != b.shape:
                raise UserError(f"deploy: the deployed network's output shape {tuple(b.shape)} != {tuple(a.shape)}")
            diff = float((a - b).abs().max())
            if not math.isfinite(diff):       # max() would keep the old worst and call NaN "verified"
                raise UserError("deploy: the trained or the deployed network outputs NaN or Inf "
                                "(are the weights finite?); nothing to verify against")
            worst = max(worst, diff)
        scale = max(1.0, float(old(example).abs().max()))
    if worst > atol * scale:
        raise UserError(f"deploy: the deployed network differs from the trained one by {worst:.3g} (> {atol * scale:.3g})")
    return worst


__all__ = ["deploy", "Deployed", "LayerChange", "Refusal", "TORCH_ALGORITHMS"]
