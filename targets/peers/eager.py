"""PyTorch eager: the module as it is, NCHW or channels_last."""
from __future__ import annotations

import copy


def build(module, example, threads, channels_last: bool = False):
    import torch
    from targets.peers import Built
    if threads:
        torch.set_num_threads(threads)
    m = module.eval()
    if channels_last:
        m = copy.deepcopy(m).to(memory_format=torch.channels_last)

    def run(x):
        with torch.no_grad():
            return m(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
    return Built(run)
