"""Workload = LayerConfig x Method x Algorithm: seeded input, torch reference, lowering for IREE."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from suite.errors import UserError
from workloads.algorithms import ALGORITHMS, Lowering, algorithm
from workloads.layer import LayerConfig
from workloads.methods import DEPLOYED, METHODS, TRAINED, deployed_deconv, make_input, trained_layer


@dataclass(frozen=True)
class Workload:
    layer: LayerConfig
    method: str
    algorithm: str | None = None          # only deployed methods have one

    @property
    def id(self) -> str:
        return "/".join(p for p in (self.layer.id, self.method, self.algorithm) if p)

    @property
    def reference_method(self) -> str:
        """The trained layer whose PyTorch output this workload must reproduce."""
        return DEPLOYED.get(self.method, self.method)

    def reference(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        with torch.no_grad():
            return trained_layer(self.layer, self.reference_method, seed)(x)

    def input(self, seed: int) -> torch.Tensor:
        return make_input(self.layer, seed)

    def lowering(self, seed: int) -> Lowering:
        L = self.layer
        if self.method in TRAINED:
            return Lowering(module=trained_layer(L, self.method, seed).eval())
        d = deployed_deconv(L, self.method, seed)
        return ALGORITHMS[self.algorithm].lower(d, L.batch, L.h, L.w)


def expand(layers: list[LayerConfig], methods: list[str] | None = None,
           algorithms: list[str] | None = None) -> list[Workload]:
    """Every (layer, method[, algorithm]) asked for, trained methods first, in a stable order."""
    methods = [_method(m) for m in methods] if methods else list(METHODS)
    algos = [algorithm(a).name for a in algorithms] if algorithms else list(ALGORITHMS)
    out: list[Workload] = []
    for layer in layers:
        for m in methods:
            if m in TRAINED:
                out.append(Workload(layer, m))
            else:
                out.extend(Workload(layer, m, a) for a in algos)
    return out


def _method(name: str) -> str:
    up = name.upper()
    if up not in METHODS:
        raise UserError(f"unknown method {name!r} (known: {', '.join(METHODS)})")
    return up
