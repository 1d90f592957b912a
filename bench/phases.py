"""The VM's slow phases, reproduced (prints; asserts nothing).

Times one module or several over and over, each time in a new `iree-benchmark-module` process with
a short warm-up (3 samples of 8 calls, their median), and prints each process's median with the
time and the host's steal counter (/proc/stat), one line per pass over the modules. On the 2-vCPU
VM this was built on, memory-bound calls ran 2-6x slower for 3-20 s at a time with nothing else
running: sweep-r4's D-SP STDD, 2.3-4.7 ms, took 14.2-14.7 ms in a phase. ``--free-gb N`` has
another process touch and free N GB after 5 s, which set off phases of 8-17 s there (not every
time). ``--fifo`` runs the modules under `chrt -f 1`, which did not avoid them.

What a phase is, as far as this script could tell on 2026-12-05 (2-thread runs, the suite's
default here, unless said):
- it slows IREE's conv workloads of many dispatches, each its own way: in one phase sweep-r4's D-SP
  STDD ran 14.5 ms (2.8 normally), D-NN STDD 7.0 (1.2), D-SP REVD 9.3 (5.2) and D-SP TDCF 1.0 (0.36);
- it spares one worker: with ``--also=--task_topology_group_count=1`` the same STDD processes ran
  3.5-5.1 ms in phases in which the two-worker ones ran 14-15 ms (the D-NN STDD 1.7-2.5 against
  6.5-7.5), so it is the two workers' hand-offs that stall, not the memory;
- letting the workers spin does not avoid it (``--also=--task_worker_spin_us=100`` or ``=2000``:
  phases in each, and slower outside them, three threads on two vCPUs);
- ``--canary`` adds a module of another kind to each pass, to see whether a cheap probe could tell a
  phase from the row's own time: a scale over 64 MiB (stream) or a chain of 64 tiny dependent
  dispatches (dispatches). Neither could: in phases in which STDD ran 14-18 ms, the stream ran
  3.8-6.5 ms (median 5.0 over the minute) and the chain 0.05-0.12 ms (median 0.06).
So a phase is seen only in the rows it slows, and the suite spreads a row's samples over rounds and
retakes a round that disagrees (suite/rounds.py); a ranking that must not see them can be timed
with ``suite run --threads 1``.

The modules are compiled here (the suite's compile cache) from catalogue workloads at a lowering:
by default sweep-r4's D-SP STDD at channels-last/nhwc. ``--workload`` may repeat.

Usage: python bench/phases.py [--seconds 35] [--free-gb 2] [--fifo] [--workload ID ...]
                              [--lowering P/L] [--canary stream|dispatches] [--also=FLAGS ...]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FREE = "import numpy as np; a = np.ones(int({n} * 2**30) // 8); a += 1; del a"
CANARIES = {"stream": 16 * 2 ** 20, "dispatches": 64}       # f32 elements of each canary's input


def steal() -> int:
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def _without(flags: list[str], added: list[str]) -> list[str]:
    """``flags`` less those that ``added`` sets again (by name)."""
    names = {a.split("=", 1)[0] for a in added}
    return [f for f in flags if f.split("=", 1)[0] not in names]


def canary_module(run, kind: str):
    """(vmfb, input file) of a canary, compiled through the run's cache."""
    import numpy as np
    from suite.build import build_module
    from suite.calibrate import _dispatch_chain_mlir, _stream_mlir
    n = CANARIES[kind]
    mlir = _stream_mlir(n) if kind == "stream" else _dispatch_chain_mlir(64, n)
    return (build_module(run.cache, mlir, "none", run.options.target.flags("default"), 600).vmfb,
            run.cache.input_file(np.full(n, 1.5, np.float32)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=35.0)
    ap.add_argument("--free-gb", type=float, default=0.0, help="touch and free this many GB in another process after 5 s")
    ap.add_argument("--fifo", action="store_true", help="time under chrt -f 1")
    ap.add_argument("--workload", action="append", help="a workload id (repeat for several; default: "
                    "n1-c3to3-128x128-k3-r4/D-SP/STDD)")
    ap.add_argument("--lowering", default="channels-last/nhwc", help="preset/layout, for every workload")
    ap.add_argument("--canary", choices=sorted(CANARIES), help="a module of another kind timed in each pass")
    ap.add_argument("--also", action="append", default=[], metavar="FLAGS",
                    help="time each module again with these runtime flags added (repeat for several; write "
                         "--also=FLAGS, as they start with --), e.g. --also=--task_topology_group_count=1")
    args = ap.parse_args()

    from suite.run import Run, Storage, make_plan
    from suite.runner import Runner
    from suite.tuning import variant
    from targets.iree_run import benchmark_module
    preset, layout = args.lowering.rsplit("/", 1)
    run = Run(make_plan(tune="none", peers="none", profile="none",
                        sched="fifo" if args.fifo else "normal"), Storage(save=False))
    runner = Runner(run.options, run.cache)
    modules = {}
    for wid in args.workload or ["n1-c3to3-128x128-k3-r4/D-SP/STDD"]:
        w = next((w for w in run.plan.workloads() if w.id == wid), None)
        if w is None:
            sys.exit(f"no workload {wid} in the default catalogue")
        _, built, x_path = runner.prepare(variant(w, layout), preset)
        if built is None:
            sys.exit(f"{wid} at {args.lowering} did not build or verify")
        modules[wid] = (built.vmfb, x_path)
    if args.canary:
        modules[f"canary: {args.canary}"] = canary_module(run, args.canary)
    o = run.options                                    # --fifo: its launcher puts the tools under chrt -f 1
    variants = {"": o.runtime_flags(), **{f" {a}": [*_without(o.runtime_flags(), a.split()), *a.split()]
                                           for a in args.also}}
    columns = [(k, v) for k in modules for v in variants]
    print(f"at {args.lowering}, a new process for each (median of 3 samples of 8 calls, ms):")
    print("\n".join(f"  column {i + 1}: {k}{v}" for i, (k, v) in enumerate(columns)))
    other = None
    t0 = time.monotonic()
    meds: dict[tuple[str, str], list[float]] = {c: [] for c in columns}
    while time.monotonic() - t0 < args.seconds:
        if args.free_gb and other is None and time.monotonic() - t0 >= 5:
            other = subprocess.Popen([sys.executable, "-c", FREE.format(n=args.free_gb)])
            print(f"{time.strftime('%H:%M:%S')}  -- another process touches and frees {args.free_gb:g} GB")
        line = []
        for k, v in columns:
            vmfb, x_path = modules[k]
            t = benchmark_module(vmfb, x_path, variants[v], 3, 0.0, 0.02, o.run_timeout_s,
                                 o.runtime_env(), o.launcher, 8)
            meds[k, v].append(statistics.median(t.samples_ms))
            line.append(f"{meds[k, v][-1]:8.3f}")
        print(f"{time.strftime('%H:%M:%S')}  {' '.join(line)}   steal {steal()}", flush=True)
    if other is not None:
        other.wait()
    for (k, v), m in meds.items():
        low = min(m)
        print(f"{k}{v}: {len(m)} processes, fastest {low:.3f} ms, median {statistics.median(m):.3f} ms; "
              f"{sum(x > 3 * low for x in m)} over 3x the fastest")


if __name__ == "__main__":
    main()
