"""Peer runtimes: what a user would deploy with instead of IREE, running the same workload.

One registry, beside the targets. A peer says whether it is installed (and if not, why), its
version, and how it turns a torch module into something that runs one input (``build``): eager
PyTorch (NCHW and channels_last), ONNX Runtime (CPU provider) and ExecuTorch with its XNNPACK
delegate. Each method runs in the runtime's native form: the trained conv + shuffle / resize for
C-*, and for D-* the runtime's own transposed convolution (conv_transpose2d, ConvTranspose, XNNPACK's
deconvolution). The suite (suite/peers.py) verifies, times and stores every peer like a workload, in
a child process (targets/peers/worker.py) under the run's thread count and allocator policy.
"""
from __future__ import annotations

import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import Callable

from targets import Availability
from workloads.errors import UserError


@dataclass(frozen=True)
class Built:
    run: Callable                      # torch tensor -> torch tensor
    note: str = ""                     # e.g. what the delegate left on a fallback
    fallback: bool = False             # part of the work runs outside the runtime's fast path


@dataclass(frozen=True)
class Peer:
    name: str
    description: str
    module: str                        # the targets.peers module that builds it
    requires: tuple[str, ...]          # Python distributions it needs
    settings: str                      # how it is configured, stated in every record
    options: dict = field(default_factory=dict)     # keyword arguments of its module's build()

    def availability(self) -> Availability:
        for dist in self.requires:
            try:
                importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                return Availability(False, f"{dist} is not installed (scripts/install.sh installs the peers)")
        return Availability(True, self.version())

    def version(self) -> str:
        return ", ".join(f"{d} {importlib.metadata.version(d)}" for d in self.requires)

    def build(self, module, example, threads: int | None) -> Built:
        return importlib.import_module(f"targets.peers.{self.module}").build(module, example, threads,
                                                                              **self.options)

    @property
    def exports(self) -> bool:
        """Whether its build is an export to bytes (cacheable, ``export``) and a ``load`` of them."""
        return hasattr(importlib.import_module(f"targets.peers.{self.module}"), "export")

    def export(self, module, example) -> tuple[bytes, dict]:
        return importlib.import_module(f"targets.peers.{self.module}").export(module, example)

    def load(self, blob: bytes, meta: dict, threads: int | None) -> Built:
        return importlib.import_module(f"targets.peers.{self.module}").load(blob, meta, threads)

    def build_onnx(self, model, example, threads: int | None) -> Built:
        """An ONNX model as it is; a runtime that takes torch modules only refuses, saying so."""
        mod = importlib.import_module(f"targets.peers.{self.module}")
        if not hasattr(mod, "build_onnx"):
            raise Refused(f"{self.name} runs torch modules; an ONNX model has no torch form to give it")
        return mod.build_onnx(model, example, threads, **self.options)


class Refused(Exception):
    """A runtime that cannot take this workload at all (its row says why)."""


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("eager", "PyTorch eager, NCHW", "eager", ("torch",),
         "torch.set_num_threads(threads); no_grad; contiguous NCHW"),
    Peer("eager-cl", "PyTorch eager, channels_last (oneDNN's NHWC kernels)", "eager", ("torch",),
         "torch.set_num_threads(threads); no_grad; module and input in channels_last", {"channels_last": True}),
    Peer("onnxruntime", "ONNX Runtime, CPU execution provider", "onnxruntime_peer", ("onnxruntime", "onnx"),
         "exported by torch.onnx (opset 17); graph optimisation ORT_ENABLE_ALL; intra-op threads = threads, "
         "inter-op 1, sequential execution; CPU memory arena and memory-pattern planning on"),
    Peer("executorch-xnnpack", "ExecuTorch with the XNNPACK delegate", "executorch_xnnpack", ("executorch",),
         "torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) -> executorch.runtime; XNNPACK's "
         "thread pool as ExecuTorch sizes it"),
)}


def get_peer(name: str) -> Peer:
    try:
        return PEERS[name]
    except KeyError:
        raise UserError(f"unknown peer runtime {name!r} (known: {', '.join(PEERS)})") from None


def resolve(spec: str) -> tuple[list[Peer], dict[str, str]]:
    """('auto' = every installed peer, 'none', or a list) -> the peers to run, and why others are not."""
    names = list(PEERS) if spec == "auto" else [] if spec == "none" else [s.strip() for s in spec.split(",") if s.strip()]
    use, why = [], {}
    for n in names:
        p = get_peer(n)
        a = p.availability()
        if a.usable:
            use.append(p)
        else:
            why[n] = a.reason
    return use, why
