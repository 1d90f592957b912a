"""Whole networks with upsampling layers, defined in code with seeded weights (no downloads)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from workloads.errors import UserError


class ESPCN(nn.Module):
    """PyTorch's example super-resolution net (examples/super_resolution/model.py), r = 3."""

    def __init__(self, r: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, 5, padding=2)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, r * r, 3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(r)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.pixel_shuffle(self.conv4(x))


class FSRCNNStyle(nn.Module):
    """FSRCNN's body (Dong et al. 2016: 56-12-4x12-56 with PReLU), ending in a sub-pixel conv 9x9."""

    def __init__(self, r: int = 2, d: int = 56, s: int = 12, m: int = 4):
        super().__init__()
        layers = [nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.last = nn.Conv2d(d, r * r, 9, padding=4)
        self.r = r

    def forward(self, x):
        return F.pixel_shuffle(self.last(self.body(x)), self.r)      # functional pixel shuffle


class ResizeDecoder(nn.Module):
    """A DCGAN/U-Net-style decoder that upsamples with resize convolutions (nearest x2, conv 3x3)."""

    def __init__(self, channels=(64, 32, 16), out: int = 3):
        super().__init__()
        self.stages = nn.ModuleList()
        for cin, cout in zip(channels, channels[1:] + (out,)):
            self.stages.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(cin, cout, 3, padding=1)))

    def forward(self, x):
        for i, stage in enumerate(self.stages):
            x = stage(x)
            x = torch.tanh(x) if i == len(self.stages) - 1 else F.relu(x)
        return x


# name -> (constructor, input shape (N, C, H, W), description)
NETWORKS = {
    "espcn": (lambda: ESPCN(3), (1, 1, 160, 240), "PyTorch example ESPCN, r = 3 (sub-pixel)"),
    "fsrcnn": (lambda: FSRCNNStyle(2), (1, 1, 96, 96), "FSRCNN-style, sub-pixel 9x9 last layer, r = 2"),
    "decoder": (lambda: ResizeDecoder(), (1, 64, 16, 16), "decoder with three nearest x2 resize convolutions"),
}


def build_network(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """The network with weights drawn from the seed, and a seeded input."""
    try:
        ctor, shape, _ = NETWORKS[name]
    except KeyError:
        from workloads.onnx_models import ONNX_NETWORKS
        raise UserError(f"unknown network {name!r} (known: {', '.join([*NETWORKS, *ONNX_NETWORKS])})") from None
    digest = int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "little")
    torch.manual_seed(digest)                      # default init, made deterministic
    net = ctor().eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(digest + 1))
    return net, x


@dataclass(frozen=True)
class NetworkInfo:
    """Stands where a LayerConfig stands for a layer workload: grouping and naming."""
    id: str
    name: str

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class NetworkWorkload:
    """A whole network, as trained or as deployed (its upsampling layers run by one algorithm)."""
    network: str
    method: str                          # "trained" | "deployed"
    algorithm: str | None = None

    @property
    def layer(self) -> NetworkInfo:
        return NetworkInfo(f"net-{self.network}", self.network)

    @property
    def id(self) -> str:
        return "/".join(p for p in (self.layer.id, self.method, self.algorithm) if p)

    reference_method = "trained"

    def input(self, seed: int) -> torch.Tensor:
        return build_network(self.network, seed)[1]

    def reference(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        with torch.no_grad():
            return build_network(self.network, seed)[0](x)

    def lowering(self, seed: int):
        from workloads.algorithms import Lowering
        from workloads.deploy import deploy
        net, x = build_network(self.network, seed)
        if self.method == "trained":
            return Lowering(module=net)
        return Lowering(module=deploy(net, x, self.algorithm).module)


def network_model_counts(w: NetworkWorkload, seed: int = 0):
    from workloads.network_model import network_counts
    return network_counts(w.lowering(seed).module, w.input(seed))


def network_workloads(names: list[str], algorithms: list[str] | None = None) -> list:
    """Each named network as trained and deployed: torch networks defined here, ONNX ones from
    workloads.onnx_models (the paper's trained ESPCN models)."""
    from workloads.algorithms import algorithm
    from workloads.deploy import TORCH_ALGORITHMS
    from workloads.onnx_models import ONNX_NETWORKS
    named = [algorithm(a).name for a in algorithms] if algorithms else list(TORCH_ALGORITHMS)
    algos = [a for a in named if a in TORCH_ALGORITHMS]
    torch_nets = [n for n in names if n not in ONNX_NETWORKS]
    if torch_nets and named and not algos:
        from workloads.errors import UserError
        raise UserError(f"a network is deployed only with an algorithm that has a torch form "
                        f"({', '.join(TORCH_ALGORITHMS)}); {', '.join(named)} {'has' if len(named) == 1 else 'have'} "
                        "none")
    out = []
    for name in names:
        if name in ONNX_NETWORKS:
            from workloads.onnx_models import network_workloads as onnx_network
            out += onnx_network(name, algorithms)
            continue
        build_network(name)                                       # unknown name: a clear error now
        out.append(NetworkWorkload(name, "trained"))
        out += [NetworkWorkload(name, "deployed", a) for a in algos]
    return out
