"""Workload = LayerConfig x Method x Algorithm: seeded input, torch reference, lowering for IREE."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn as nn

from workloads.errors import UserError
from workloads.algorithms import ALGORITHMS, Lowering, algorithm
from workloads.layer import LayerConfig
from workloads.methods import DEPLOYED, METHODS, TRAINED, deployed_deconv, make_input, trained_layer


@dataclass(frozen=True)
class Workload:
    layer: LayerConfig
    method: str
    algorithm: str | None = None          # only deployed methods have one
    form: str = ""                        # another formulation of the algorithm (Algorithm.forms), tried by the tuner

    @property
    def id(self) -> str:
        return "/".join(p for p in (self.layer.id, self.method, self.algorithm, self.form) if p)

    def forms(self) -> tuple[str, ...]:
        """The algorithm's other forms that change this layer's module."""
        if self.method in TRAINED or not self.algorithm:
            return ()
        L = self.layer
        return ALGORITHMS[self.algorithm].forms(deployed_deconv(L, self.method, 0), L.h, L.w)

    @property
    def reference_method(self) -> str:
        """The trained layer whose PyTorch output this workload must reproduce."""
        return DEPLOYED.get(self.method, self.method)

    def reference(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        """The trained layer's output for this workload's input ``x`` (in the layer's layout)."""
        with torch.no_grad():
            if channels_last(self.layer.layout):
                return to_nhwc(trained_layer(self.layer, self.reference_method, seed)(from_nhwc(x)))
            return trained_layer(self.layer, self.reference_method, seed)(x)

    def input(self, seed: int) -> torch.Tensor:
        """The seeded input; an NHWC layer sees the very same numbers, transposed."""
        x = make_input(self.layer, seed)
        return to_nhwc(x) if channels_last(self.layer.layout) else x

    def lowering(self, seed: int) -> Lowering:
        L = self.layer
        if self.method in TRAINED:
            module = trained_layer(L, self.method, seed, blocked=L.layout == "nhwc-blocked").eval()
            low = Lowering(module=module, tuning_spec=module.tuning_spec())
        else:
            d = deployed_deconv(L, self.method, seed)
            form = {"form": self.form} if self.form else {}
            low = ALGORITHMS[self.algorithm].lower(d, L.batch, L.h, L.w, L.layout, **form)
        if channels_last(L.layout) and low.module is not None:
            low = replace(low, module=ChannelsLastIO(low.module).eval())
        return low


def channels_last(layout: str) -> bool:
    return layout.startswith("nhwc")


def to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous()


def from_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2).contiguous()


class ChannelsLastIO(nn.Module):
    """An NCHW module behind an NHWC interface. IREE sees the two transposes next to the module's
    own ops; with the channels-last preset (convs rewritten to NHWC) they cancel, so the compiled
    code reads and writes NHWC directly -- the point of the layout option."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


ANY_TARGET = "any"          # expand() for no target in particular: every algorithm


def expand(layers: list[LayerConfig], methods: list[str] | None = None,
           algorithms: list[str] | None = None, cpu_arch: str | None = ANY_TARGET) -> list[Workload]:
    """Every (layer, method[, algorithm]) asked for, trained methods first, in a stable order.
    ``cpu_arch``: the target's CPU architecture (None: not a CPU); algorithms with no form for it (or
    that cannot be built here) are left out, or a UserError when named."""
    methods = [_method(m) for m in methods] if methods else list(METHODS)
    algos = [algorithm(a).name for a in algorithms] if algorithms else list(ALGORITHMS)
    if cpu_arch != ANY_TARGET:
        for name, why in unavailable_algorithms(cpu_arch).items():
            if name in algos and algorithms:
                raise UserError(why)
            algos = [a for a in algos if a != name]
    out: list[Workload] = []
    for layer in layers:
        for m in methods:
            if m in TRAINED:
                out.append(Workload(layer, m))
            else:                  # the blocked layout exists only for algorithms with a blocked conv
                out.extend(Workload(layer, m, a) for a in algos
                           if layer.layout != "nhwc-blocked" or ALGORITHMS[a].blocked)
    return out


def unavailable_algorithms(cpu_arch: str | None) -> dict[str, str]:
    """The algorithms a target of this CPU architecture (None: not a CPU) cannot run, with why."""
    out = {}
    for a in ALGORITHMS.values():
        why = None if a.runs_on(cpu_arch) else (
            f"{a.name} is a hand-written kernel for {' and '.join(a.hand_written)} CPUs; "
            f"this target is {cpu_arch + ' code' if cpu_arch else 'not a CPU'}")
        why = why or a.unavailable()
        if why:
            out[a.name] = why
    return out


def _method(name: str) -> str:
    up = name.upper()
    if up not in METHODS:
        raise UserError(f"unknown method {name!r} (known: {', '.join(METHODS)})")
    return up
