"""Simulated DRAM bytes (cachegrind, Cortex-A72 caches) of every method and algorithm over the
model's bytes, for the paper's sweep layers -- measured in one run on this machine; prints only.

Usage: python bench/traffic.py [--layers sweep-r2,sweep-r3,sweep-r4] [--accounting full|paper]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.cache import CompileCache                     # noqa: E402
from suite.selection import resolve_layers         # noqa: E402
from workloads.counts import counts                            # noqa: E402
from suite.runner import Runner, RunOptions               # noqa: E402
from targets import get_target                            # noqa: E402
from workloads.workload import expand                    # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="sweep-r2,sweep-r3,sweep-r4")
    ap.add_argument("--accounting", default="full", choices=("full", "paper"))
    args = ap.parse_args()
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-sync", verify_only=True, collectors=("cachegrind",)),
                    CompileCache())
    for layer in resolve_layers([], args.layers.split(",")):
        print(f"\n{layer.label} ({layer.id}): simulated DRAM bytes / model bytes ({args.accounting} accounting)")
        for r in runner.run(expand([layer])):
            sim = sum(c["value"] for c in r.counters if not c["dispatch"]
                      and c["name"] in ("sim_dram_bytes_read", "sim_dram_bytes_written"))
            model = counts(layer, r.method, r.algorithm).bytes(args.accounting)
            label = r.method + (f" {r.algorithm}" if r.algorithm else "")
            if r.status != "ok" or not sim:
                print(f"  {label:12s} {r.status} {r.reason or r.counter_errors}")
                continue
            print(f"  {label:12s} sim {sim / 1e6:9.2f} MB  model {model / 1e6:9.2f} MB  ratio {sim / model:6.2f}")


if __name__ == "__main__":
    main()
