"""An algorithm's other forms against its plain one, layer by layer (prints; asserts nothing).

An algorithm may have other forms of itself that the tuner searches as candidates of their own
(workloads.algorithms: ``Algorithm.forms``; REVD's ``cols8``, its phase grid's columns rounded up to
a multiple of 8). This script builds each layer's D-SP and D-NN workload in the plain form and in
every form that changes its module, in each layout and preset of the tuner's llvm-cpu space that
the workload has, verifies each against torch, and times them side by side in alternating rounds:
so whether a form pays off, and where, can be checked on any layer without a tuned run.

Usage: python bench/algorithm_forms.py [--algorithm REVD] [--layer sweep-r2 ...] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.build import build_module                                   # noqa: E402
from suite.cache import CompileCache                                   # noqa: E402
from suite.export import to_mlir                                       # noqa: E402
from suite.selection import resolve_layers                             # noqa: E402
from suite.tuning import SEARCH_SPACES, applies, variant               # noqa: E402
from targets import get_target                                         # noqa: E402
from targets.iree_run import benchmark_module, run_module              # noqa: E402
from workloads.workload import Workload                                # noqa: E402

FLAGS = ["--device=local-task"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithm", default="REVD")
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    cache, target = CompileCache(), get_target("llvm-cpu")
    names = args.layer or ["sweep-r2", "sweep-r3", "sweep-r4", "espcn", "fsrcnn-r2", "fsrcnn-r3", "fsrcnn-r4"]
    print(f"{args.algorithm}: each form over the plain one in the same lowering (median of alternating rounds; "
          "< 1: the form is faster)")
    for layer in resolve_layers([], names):
        for method in ("D-SP", "D-NN"):
            w = Workload(layer, method, args.algorithm)
            forms = w.forms()
            if not forms:
                print(f"  {layer.name:10s} {method}  no form changes this layer's module")
                continue
            built = {}
            with tempfile.TemporaryDirectory() as tmp:
                for c in (c for c in SEARCH_SPACES["llvm-cpu"] if applies(c, w)):
                    for form in ("", *forms):
                        v = variant(w, c.layout, form)
                        x = v.input(0)
                        ref = v.reference(x, 0).numpy()
                        mlir, input_type = to_mlir(v.lowering(0), x)
                        module = build_module(cache, mlir, input_type, target.flags(c.preset), 900)
                        x_path = Path(tmp) / f"x-{c.layout}.npy"
                        np.save(x_path, x.numpy())
                        y, _ = run_module(module.vmfb, x_path, FLAGS, 600)
                        err = float(np.abs(y - ref).max())
                        if err > 1e-3:
                            raise SystemExit(f"{layer.name} {method} {c.label} {form or 'plain'}: wrong "
                                             f"(max error {err:.2e})")
                        built[c.label, form] = (module, x_path)
                samples = {k: [] for k in built}
                for _ in range(args.rounds):
                    for k, (module, x_path) in built.items():
                        samples[k] += benchmark_module(module.vmfb, x_path, FLAGS, 3, 0.05, 0.05, 600).samples_ms
            med = {k: statistics.median(v) for k, v in samples.items()}
            for (label, form), ms in med.items():
                if form:
                    plain = med[label, ""]
                    print(f"  {layer.name:10s} {method}  {label:36s} plain {plain:8.3f} ms  {form} {ms:8.3f} ms  "
                          f"{ms / plain:5.2f}x", flush=True)


if __name__ == "__main__":
    main()
