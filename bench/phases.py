"""The VM's slow phases, reproduced (prints; asserts nothing).

Times one module over and over, each time in a new `iree-benchmark-module` process with a short
warm-up (3 samples of 8 calls, their median), and prints each process's median with the time and
the host's steal counter (/proc/stat). On the 2-vCPU VM this was built on, memory-bound calls ran
2-6x slower for 3-20 s at a time with nothing else running and no steal counted: sweep-r4's D-SP
STDD, 2.3-4.7 ms, took 14.2-14.7 ms in a phase. ``--free-gb N`` has another process touch and free
N GB after 5 s, which set off phases of 8-17 s there (not every time). ``--fifo`` runs the module
under `chrt -f 1`, which did not avoid them.

The module is compiled here (the suite's compile cache) from a catalogue workload at a lowering:
by default sweep-r4's D-SP STDD at channels-last/nhwc.

Usage: python bench/phases.py [--seconds 35] [--free-gb 2] [--fifo] [--workload ID] [--lowering P/L]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FREE = "import numpy as np; a = np.ones({n} * 2**30 // 8); a += 1; del a"


def steal() -> int:
    with open("/proc/stat") as f:
        return int(f.readline().split()[8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=35.0)
    ap.add_argument("--free-gb", type=float, default=0.0, help="touch and free this many GB in another process after 5 s")
    ap.add_argument("--fifo", action="store_true", help="time under chrt -f 1")
    ap.add_argument("--workload", default="n1-c3to3-128x128-k3-r4/D-SP/STDD")
    ap.add_argument("--lowering", default="channels-last/nhwc", help="preset/layout")
    args = ap.parse_args()

    from suite.run import Run, Storage, make_plan
    from suite.runner import Runner
    from suite.tuning import variant
    from targets.iree_run import benchmark_module
    preset, layout = args.lowering.rsplit("/", 1)
    run = Run(make_plan(tune="none", peers="none", profile="none",
                        sched="fifo" if args.fifo else "normal"), Storage(save=False))
    w = next((w for w in run.plan.workloads() if w.id == args.workload), None)
    if w is None:
        sys.exit(f"no workload {args.workload} in the default catalogue")
    runner = Runner(run.options, run.cache)
    _, built, x_path = runner.prepare(variant(w, layout), preset)
    if built is None:
        sys.exit(f"{args.workload} at {args.lowering} did not build or verify")
    o = run.options                                    # --fifo: its launcher puts the tools under chrt -f 1
    print(f"{args.workload} at {args.lowering}: a new process every line (median of 3 samples of 8 calls)")
    other = None
    t0 = time.monotonic()
    meds = []
    while time.monotonic() - t0 < args.seconds:
        if args.free_gb and other is None and time.monotonic() - t0 >= 5:
            other = subprocess.Popen([sys.executable, "-c", FREE.format(n=args.free_gb)])
            print(f"{time.strftime('%H:%M:%S')}  -- another process touches and frees {args.free_gb:g} GB")
        t = benchmark_module(built.vmfb, x_path, o.runtime_flags(), 3, 0.0, 0.02, o.run_timeout_s,
                             o.runtime_env(), o.launcher, 8)
        m = statistics.median(t.samples_ms)
        meds.append(m)
        print(f"{time.strftime('%H:%M:%S')}  {m:7.2f} ms   steal {steal()}", flush=True)
    if other is not None:
        other.wait()
    low = min(meds)
    print(f"{len(meds)} processes: fastest {low:.2f} ms, median {statistics.median(meds):.2f} ms; "
          f"{sum(m > 3 * low for m in meds)} over 3x the fastest")


if __name__ == "__main__":
    main()
