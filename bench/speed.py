"""Issue 18's goals, measured by the tuned `suite run` itself (prints; asserts nothing).

A thin layer over the run library (suite.run): no sweep of its own. It runs the catalogue as the
default `suite run` does (each workload at its tuned lowering, decided once per testbed and kept in
a tuning database), timing the run; with --cold, first with an empty compile cache and tuning
database (the cold run, searching included), then again with both (the warm re-run). Then, from the
record:
  - each reported row over the best median any candidate lowering (preset x layout) reached in the
    tuner's race for it: the goal is <= 1.2 for every row;
  - REVD2's best (the hand-written REVD2-HW or IREE's codegen of REVD2) over the best other algorithm
    of the same method, per layer: the goal is <= 1.25;
  - the model against the machine at the tuned lowerings: Kendall tau per layer (goal >= 0.8) and
    the median absolute error of the predicted latency (goal < 35%);
  - the cold and warm wall times (goals: 15 and 2 minutes on the project's 2-core machine).

Usage: python bench/speed.py [-c default] [--layer espcn ...] [--cold] [--peers none]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.rows import Record                    # noqa: E402
from suite.run import Run, Storage, make_plan    # noqa: E402
from suite.paths import TUNING_DIR               # noqa: E402


def timed_run(plan, storage) -> tuple[dict, float]:
    t0 = time.perf_counter()
    run = Run(plan, storage, say=lambda text: print(text, flush=True))
    run.execute()
    run.finish()
    return run.record, time.perf_counter() - t0


def lowering_goal(rec: Record) -> None:
    print("\nreported row over the best lowering the tuner's race reached (goal <= 1.20)")
    missed = 0
    for r in rec.iree_rows:
        cands = [c for c in (r.tuning or {}).get("candidates", []) if c.get("median_ms")]
        if not r.ok or not cands:
            continue
        best = min(cands, key=lambda c: c["median_ms"])
        ratio = r.median_ms / best["median_ms"]
        missed += ratio > 1.2
        flag = "  MISSED" if ratio > 1.2 else ""
        print(f"  {r.id:48s} {r.tuning['chosen']:36s} {r.median_ms:9.3f} ms  best {best['preset']}/"
              f"{best['layout']} {best['median_ms']:9.3f} ms  {ratio:5.2f}x{flag}")
    print(f"  {missed} rows above 1.2x")


REVD2_FORMS = ("REVD2", "REVD2-HW")      # IREE's codegen of its linalg form; the hand-written kernel


def revd2_goal(rec: Record) -> None:
    print("\nREVD2's best (either form) over the best other algorithm of the same method (goal <= 1.25)")
    layers = dict.fromkeys(r.layer for r in rec.iree_rows)
    for layer in layers:
        for method in ("D-SP", "D-NN"):
            rows = [r for r in rec.iree_rows if r.layer == layer and r.method == method and r.ok]
            forms = {r.algorithm: r.median_ms for r in rows if r.algorithm in REVD2_FORMS}
            other = [(r.median_ms, r.algorithm) for r in rows if r.algorithm not in REVD2_FORMS]
            if not (forms and other):
                continue
            best, name = min(other)
            form = min(forms, key=forms.get)
            ratio = forms[form] / best
            codegen = forms.get("REVD2")
            print(f"  {layer:32s} {method}  {form:8s} {forms[form]:9.3f} ms  best other {name:5s} {best:9.3f} ms  "
                  f"{ratio:5.2f}x" + ("  MISSED" if ratio > 1.25 else "")
                  + ("" if codegen is None else f"   (IREE's codegen of REVD2: {codegen / best:.2f}x; "
                                                "bench/revd2_forms.py, bench/repro/)"))


def model_goal(rec: Record) -> None:
    model = rec.data.get("model") or {}
    print("\nthe model against the machine at the tuned lowerings (goals: tau >= 0.8 per layer, MdAPE < 35%)")
    for layer, a in (model.get("layers") or {}).items():
        tau, compiled = a.get("kendall_tau"), a.get("kendall_tau_compiled")
        print(f"  {layer:40s} tau {'n/a' if tau is None else f'{tau:+.2f}'} over {a['n']}"
              + ("" if compiled is None else f"; {compiled:+.2f} with the compiled module's terms")
              + ("  MISSED" if max(t for t in (tau, compiled, -1.0) if t is not None) < 0.8 else ""))
    if model.get("mdape_percent") is not None:
        best = min(m for m in (model["mdape_percent"], model.get("mdape_compiled_percent")) if m is not None)
        print(f"  median absolute error {model['mdape_percent']:.0f}% over {model['n']} workloads"
              + ("" if model.get("mdape_compiled_percent") is None
                 else f"; {model['mdape_compiled_percent']:.0f}% with the compiled module's terms")
              + ("  MISSED" if best >= 35 else ""))
    else:
        print("  no model in this run (--profile none?)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--catalogue", action="append", default=[])
    ap.add_argument("--layer", action="append", default=[])
    ap.add_argument("--cold", action="store_true", help="time a cold run (empty cache and tuning database) first")
    ap.add_argument("--peers", default="none", help="peer runtimes in the timed runs (default: none)")
    ap.add_argument("--tune", default="full", choices=("full", "auto"),
                    help="full (default): search again, so that each row and its candidates' race are timed in "
                         "the same run; auto: take the database's decisions (and their candidates' old medians)")
    args = ap.parse_args()
    plan = make_plan(catalogues=args.catalogue, layers=args.layer, peers=args.peers, tune=args.tune)
    with tempfile.TemporaryDirectory() as tmp:
        if args.cold:
            storage = Storage(save=False, cache_dir=Path(tmp) / "cache", tuning_dir=Path(tmp) / "tuning")
            (Path(tmp) / "tuning").mkdir()
            _, cold = timed_run(plan, storage)
        else:
            storage, cold = Storage(save=False, tuning_dir=TUNING_DIR), None
        record, warm = timed_run(plan, storage)
    rec = Record(record)
    print(f"\n{len(rec.iree_rows)} workloads; " + (f"cold run {cold / 60:.1f} min (goal 15), " if cold else "")
          + f"{'warm re-run' if cold else 'this run'} {warm / 60:.1f} min (goal 2 when warm)")
    lowering_goal(rec)
    revd2_goal(rec)
    model_goal(rec)


if __name__ == "__main__":
    main()
