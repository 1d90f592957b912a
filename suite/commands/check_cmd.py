"""suite check: a run against a baseline, for CI. Exit code 1 only on a regression: a workload that
stopped verifying, a deterministic count (static/simulated bytes, dispatches) that grew, or -- unless
--latency report -- a latency change past the threshold that is also statistically significant."""
from __future__ import annotations

import sys
from pathlib import Path

from suite import options
from suite.paths import BASELINES_DIR, find_run
from suite.errors import UserError

MARK = {"regressed": "🚩", "broken": "🚩", "invalid": "🚩", "improved": "🎉", "fixed": "🎉", "noisy": "~", "changed": "Δ",
        "new": "+", "missing": "-"}


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="check a run against a baseline (CI); exit 1 on a regression")
    p.add_argument("run", nargs="?", default="latest", help="the run to check (default: latest)")
    p.add_argument("--baseline", required=True, help="baseline record (path, or a name in results/baselines)")
    options.add_results_dir(p)
    options.add_comparison(p)
    p.add_argument("--latency", choices=("fail", "report"), default="fail",
                   help="'report' shows latency changes without failing on them (noisy CI machines)")
    p.add_argument("--format", choices=("text", "markdown"), default="text")
    p.add_argument("-o", "--output", type=Path, help="write the report here as well (a new file)")
    p.add_argument("--force", action="store_true", help="let --output replace an existing file")
    p.set_defaults(func=main)


def baseline_path(spec: str) -> Path:
    p = Path(spec)
    if p.exists() or p.suffix == ".json":
        return p
    return BASELINES_DIR / f"{spec}.json"


def render(changes, base: dict, new: dict, fmt: str, latency_compared: bool, failed) -> str:
    shown = [c for c in changes if c.verdict not in ("similar", "new", "missing")]
    head = (f"suite check: {new['id']} against baseline {base['id']}: "
            f"{'FAILED, ' + str(len(failed)) + ' regression(s)' if failed else 'ok'}")
    notes = [] if latency_compared else ["latency not compared: the baseline was run on another testbed"]
    for verdict, where in (("missing", "in the baseline but not in this run"), ("new", "in this run only")):
        ids = [c.workload for c in changes if c.verdict == verdict]
        if ids:
            notes.append(f"{len(ids)} workload(s) {where}: {', '.join(ids[:3])}{' ...' if len(ids) > 3 else ''}")
    if fmt == "markdown":
        lines = [f"### {head}", ""] + [f"> {n}" for n in notes]
        if shown:
            lines += ["", "| | workload | preset | metric | base | new | ratio | p |", "|---|---|---|---|---|---|---|---|"]
            for c in shown:
                lines.append(f"| {MARK.get(c.verdict, '')} {c.verdict} | `{c.workload}` | {c.preset} | {c.metric} | "
                             f"{_f(c.base)} | {_f(c.new)} | {_f(c.ratio)} | {_f(c.p_value)} |")
        else:
            lines.append("No changes.")
        return "\n".join(lines) + "\n"
    lines = [head, *notes]
    for c in shown:
        lines.append(f"  {MARK.get(c.verdict, ' ')} {c.verdict:9s} {c.workload} [{c.preset}] {c.metric}: "
                     f"{_f(c.base)} -> {_f(c.new)}" + (f" (x{c.ratio:.3f}, p={c.p_value:.3g})" if c.p_value is not None else ""))
    return "\n".join(lines) + "\n"


def _f(v) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def main(args) -> int:
    from suite.compare import compare_records, regressions, same_testbed
    from suite import outputs
    from suite.record import load_record
    if args.output:
        outputs.new_file(args.output, "--output", args.force)
    base_file = baseline_path(args.baseline)
    if not base_file.exists():
        raise UserError(f"baseline {base_file} does not exist (create one with `suite baseline`)")
    base = load_record(base_file)
    new = load_record(find_run(args.run, args.results_dir))
    latency_compared = same_testbed(base, new)
    changes = compare_records(base, new, args.threshold, args.alpha, latency=latency_compared,
                              min_delta_ms=args.min_delta)
    failed = regressions(changes, latency_fails=args.latency == "fail")
    text = render(changes, base, new, args.format, latency_compared, failed)
    sys.stdout.write(text)
    if args.output:
        try:
            args.output.write_text(text)
        except OSError as e:
            raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
    return 1 if failed else 0
