"""Issue 20's goals, measured in one run on this machine (prints; asserts nothing).

A tuned `suite run` with every installed peer runtime (through the library: suite.run), then:
  - per layer and method, IREE's best (its tuned lowering) over the best peer: the goal is <= 1.0,
    IREE ahead of every peer; where IREE is behind, the lowering IREE chose for its compute dispatch;
  - the paper's claim per runtime: best D-SP over C-SP and best D-NN over C-NN in IREE and each peer.

IREE and the peers are timed in alternating rounds, layer by layer (suite/rounds.py).

Usage: python bench/peers.py [--layer espcn --layer sweep-r2 ... | --layer cin=..,cout=..] [--peers auto]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.report import make_console, print_runtime_claims      # noqa: E402
from suite.run import Run, Storage, make_plan                    # noqa: E402
from suite.rows import is_ok                                     # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", action="append", help="a catalogue layer or an inline one (repeatable; default: "
                                                     "espcn and the sweep)")
    ap.add_argument("--peers", default="auto")
    ap.add_argument("--methods", default="C-SP,C-NN,D-SP,D-NN")
    args = ap.parse_args()
    plan = make_plan(layers=args.layer or ["espcn", "sweep-r2", "sweep-r3", "sweep-r4"], methods=[args.methods], peers=args.peers, profile="none",
                     counters="iree-static")
    run = Run(plan, Storage(save=False))
    run.execute()
    run.finish()
    rows = run.record["workloads"]
    console = make_console(170)
    missed = []
    print(f"{'layer':16s} {'method':6s} {'IREE best':>10s} {'lowering':42s} {'best peer':>10s} {'peer':20s} "
          f"{'IREE/peer':>9s}")
    for layer in run.layers.values():
        for method in plan.methods:
            mine = [r for r in rows if r["layer"] == layer.id and r["method"] == method and is_ok(r)]
            iree = [r for r in mine if not r.get("runtime")]
            peers = [r for r in mine if r.get("runtime")]
            if not iree or not peers:
                continue
            best = min(iree, key=lambda r: r["stats_ms"]["median"])
            peer = min(peers, key=lambda r: r["stats_ms"]["median"])
            ratio = best["stats_ms"]["median"] / peer["stats_ms"]["median"]
            lowering = f"{best.get('algorithm') or '-'} {best.get('preset')}/{best.get('layout') or 'nchw'}"
            print(f"{layer.label[:16]:16s} {method:6s} {best['stats_ms']['median']:10.3f} {lowering[:42]:42s} "
                  f"{peer['stats_ms']['median']:10.3f} {peer['runtime']:20s} {ratio:9.2f}")
            if ratio > 1:
                missed.append((layer.label, method, ratio, peer["runtime"], _compute_dispatch(best)))
    print("\ngoal (IREE's best <= the best peer): " + ("all met" if not missed else f"{len(missed)} missed"))
    for layer, method, ratio, peer, why in missed:
        print(f"  {layer} {method}: {ratio:.2f}x {peer}; IREE's compute dispatch: {why}")
    print()
    print_runtime_claims(run.record, console)


def _compute_dispatch(row: dict) -> str:
    """IREE's compute dispatch of the module (a conv or contraction, the one binding the most bytes;
    else the biggest dispatch), from iree-static."""
    import re
    per = {c["dispatch"]: c["value"] for c in row.get("counters", [])
           if c["collector"] == "iree-static" and c["name"] == "dispatch_bytes_read" and c.get("dispatch")}
    if not per:
        return "(no static counters)"
    compute = {d: v for d, v in per.items() if re.search(r"conv|matmul|contract|reduction", d)} or per
    name = max(compute, key=compute.get)
    return f"{name} (reads {per[name] / 1e6:.1f} MB)"


if __name__ == "__main__":
    main()
