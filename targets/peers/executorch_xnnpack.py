"""ExecuTorch with the XNNPACK delegate: torch.export, lowered with XnnpackPartitioner, run by the
ExecuTorch runtime. Ops the delegate does not take stay on ExecuTorch's portable kernels, and the
result says which (e.g. C-NN's upsample_nearest2d)."""
from __future__ import annotations


def build(module, example, threads):
    return load(*export(module, example), threads)


def export(module, example) -> tuple[bytes, dict]:
    """The ExecuTorch program (.pte bytes) and which ops stayed outside the delegate: the costly
    half of a build (seconds per layer), which the suite caches (suite.peers)."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    edge = to_edge_transform_and_lower(torch.export.export(module.eval(), (example,)),
                                       partitioner=[XnnpackPartitioner()])
    outside = sorted({_op_name(n.target) for n in edge.exported_program().graph_module.graph.nodes
                      if n.op == "call_function" and "executorch_call_delegate" not in str(n.target)
                      and "getitem" not in str(n.target)})
    return edge.to_executorch().buffer, {"outside": outside}


def load(program: bytes, meta: dict, threads):
    from executorch.runtime import Runtime
    from targets.peers import Built
    loaded = Runtime.get().load_program(program)
    method = loaded.load_method("forward")

    def run(x, _keep=(program, loaded)):      # the method reads the loaded program: keep both alive
        return method.execute([x])[0]
    if meta["outside"]:
        return Built(run, note="not delegated to XNNPACK (portable kernels): " + ", ".join(meta["outside"]),
                     fallback=True)
    return Built(run, note="fully delegated to XNNPACK")


def _op_name(target) -> str:
    """'aten.upsample_nearest2d' out of an edge op's long repr."""
    import re
    m = re.search(r"aten[.:]+(\w+)", str(target))
    return f"aten.{m.group(1)}" if m else str(target)[:60]
