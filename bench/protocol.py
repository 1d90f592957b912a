"""What the timing protocol costs a run, and why its warm-up stays (prints; asserts nothing).

Issue 18 asks for a warm re-run within 2 minutes. What a warm run spends is mostly the protocol
that makes its medians trustworthy on a noisy VM (suite/rounds.py), and this script shows how much:

1. From a run record (default: the newest in results/runs), where its timing went:
   - the timed samples: 10 per row of at least 50 ms each, more for a row whose rounds disagree;
   - the warm-ups: iree-benchmark-module, told how many calls fill a sample, warms up with at least
     one repetition's calls (targets.iree_run.benchmark_module), once per round, so once per process:
     one part of a sample where the run timed its samples in parts (``sample_parts`` in its
     settings), else one whole sample;
     a peer warms up for the run's warm-up time each round;
   - how many processes, and how many rows were retaken (counted as rows with more rounds than the
     run planned: in a record of before rows planned their rounds, a row of slow calls that its
     time budget stopped early and that was then retaken is missed);
   - the floor: the samples of each row's planned rounds alone (10 of at least 50 ms, or 5 of a
     call that fills more than a 1 s budget), no warm-up, retake or process start.
   ``bench/speed.py`` prints the same for the run it times, beside its wall time.
2. ``--bias``: each timed IREE row of the record, again in new processes, without a warm-up and with
   the run's, alternating (none, the run's, none, ...): the first sample over the median of the
   rest. With a call count per sample, "the run's" warm-up is one repetition (a part of a sample,
   where the run timed in parts, and its samples here are then parts); without it, a
   process's first sample is slower. For rows of one call a sample, it also prints the first
   call's excess in ms, which is what a shorter warm-up could not remove either.

On this repository's 2-vCPU VM (2026-12-05, `suite run --peers none`, warm), with two rounds a row
(suite.rounds), three runs: 120-137 s, of which 84-96 s were samples and 21-23 s warm-ups, over
278-293 processes (12-27 rows retaken); the floor 82-90 s; the rest 16-18 s. Three runs of three
rounds, alternated with those: 129-143 s, 417-430 processes. Before that, four runs: 129-140 s,
of which 84-92 s were samples and 27-30 s warm-ups, over 411-431 processes (20-40 rows retaken);
the floor 81-84 s; the rest (verification, which runs every row's call once, start-up, report)
18 s. Before the warm-up was capped at half a sample (targets.iree_run.warmup_time), Google
Benchmark often warmed up twice, and the rest took 28-30 s (143-148 s in all; three runs,
alternated with those four). Without a warm-up, a process's first sample was 6-12%
slower at the median and 25-30% at p90; on rows of one call a sample (20-830 ms calls) the first
call cost 3-29 ms more. Since a sample of a known call count is timed in up to five parts
(targets.iree_run.sample_parts), a process warms up with one part: two warm runs each way,
alternated, in a noisy stretch (floors 87-100 s; 2026-12-05 20:48): 130 and 115 s against 154 and
141 s, of which 11-13 s of warm-ups against 24-27; the rows' medians 3% lower at the median.

Usage: python bench/protocol.py [RECORD] [--bias] [--layer sweep-r2 ...] [--passes 2]
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suite.errors import UserError              # noqa: E402
from suite.paths import find_run                 # noqa: E402
from suite.rounds import ROUNDS                  # noqa: E402
from suite.rows import Record                    # noqa: E402
from targets.iree_run import StageError, iteration_runs, samples_ms, timed_parts, warmup_time  # noqa: E402


def timing_cost(rec: Record) -> dict:
    """Seconds a record's rows spent being timed, by part (see the module's docstring)."""
    warmup_s = rec.settings.get("warmup_s", 0.05)
    # as the run timed them (targets.iree_run.timed_parts); a record of before parts warmed up with a whole sample
    most, min_time_s = rec.settings.get("sample_parts") or 1, rec.settings.get("min_time_s", 0.05)
    parts = lambda n: timed_parts(n, warmup_s, min_time_s, most)  # noqa: E731
    planned_rounds = (rec.settings.get("rounds") or {}).get("rounds", ROUNDS)
    cost = {"planned_rounds": planned_rounds, "rows": 0, "samples_s": 0.0, "warmups_s": 0.0, "processes": 0, "retaken": 0,
            "peer_rows": 0, "peer_samples_s": 0.0, "peer_warmups_s": 0.0, "floor_s": 0.0}
    for r in rec.rows:
        samples, calls = r.samples_ms, r.data.get("iterations") or []
        if not samples or len(calls) != len(samples):
            continue
        rounds = r.data.get("rounds") or [len(samples)]
        spent = sum(s * n for s, n in zip(samples, calls)) / 1e3
        cost["retaken"] += len(rounds) > planned_rounds
        if r.is_peer:
            cost["peer_rows"] += 1
            cost["peer_samples_s"] += spent
            cost["peer_warmups_s"] += len(rounds) * max(warmup_s, samples[0] / 1e3)
            continue
        cost["rows"] += 1
        cost["samples_s"] += spent
        cost["processes"] += len(rounds)
        starts = [sum(rounds[:i]) for i in range(len(rounds)) if rounds[i]]
        cost["warmups_s"] += sum(samples[i] * calls[i] / parts(calls[i]) for i in starts) / 1e3  # one part's calls a round
        planned = sum(rounds[:planned_rounds])                                     # the retakes left out
        cost["floor_s"] += sum(s * n for s, n in zip(samples[:planned], calls[:planned])) / 1e3
    return cost


def print_cost(cost: dict, wall_s: float | None = None) -> None:
    timed = cost["samples_s"] + cost["warmups_s"] + cost["peer_samples_s"] + cost["peer_warmups_s"]
    print(f"where the timing went{'' if wall_s is None else f' (of {wall_s:.0f} s)'}: IREE's {cost['rows']} rows "
          f"{cost['samples_s']:.0f} s of samples and {cost['warmups_s']:.0f} s of warm-ups in "
          f"{cost['processes']} processes"
          + (f"; the peers' {cost['peer_rows']} rows {cost['peer_samples_s']:.0f} s and "
             f"{cost['peer_warmups_s']:.0f} s" if cost["peer_rows"] else "")
          + f"; rows retaken: {cost['retaken']}; {timed:.0f} s in all"
          + ("" if wall_s is None else f", {wall_s - timed:.0f} s of everything else"))
    print(f"  the floor: IREE's samples of its first {cost['planned_rounds']} rounds, no warm-up, retake or process: "
          f"{cost['floor_s']:.0f} s")


def _first_over_rest(cmd: list[str], warmup_s: float) -> tuple[float, float]:
    """(first sample / median of the rest, first - median in ms) of one new process of 4 samples."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "b.json"
        subprocess.run([*cmd, "--benchmark_repetitions=4", f"--benchmark_min_warmup_time={warmup_s:g}",
                        "--benchmark_out_format=json", f"--benchmark_out={out}"], capture_output=True, check=True)
        ms = samples_ms(iteration_runs(json.loads(out.read_text()), shlex.join(cmd)))
    rest = statistics.median(ms[1:])
    return ms[0] / rest, ms[0] - rest


def warmup_bias(rec: Record, layers: list[str], passes: int) -> None:
    warmup_s, min_time_s = rec.settings.get("warmup_s", 0.05), rec.settings.get("min_time_s", 0.05)
    rows = [r for r in rec.iree_rows if r.ok and r.samples_ms and (not layers or r.layer_name in layers)]
    ratios: dict[str, list[float]] = {"none": [], "the run's": []}
    excess: dict[str, list[float]] = {}
    print(f"\n{len(rows)} IREE rows, each in {passes} x 2 new processes of 4 samples: without a warm-up and with "
          f"the run's ({warmup_s:g} s, at most half a sample with a call count: targets.iree_run.warmup_time), "
          "alternating")
    for r in rows:
        cmd = [c for c in shlex.split(r.data["commands"]["time"])
               if not c.startswith(("--benchmark_repetitions", "--benchmark_min_warmup_time", "--benchmark_out"))]
        if not all(Path(c.split("@", 1)[-1].split("=", 1)[-1]).exists() for c in cmd if c.startswith(("--module",
                                                                                                      "--input"))):
            print(f"  {r.id}: its module or input is no longer in the compile cache")
            continue
        counted = any(c.startswith("--benchmark_min_time=") and c.endswith("x") for c in cmd)
        calls = (r.data.get("iterations") or [None])[0] if counted else None
        parts = timed_parts(calls, warmup_s, min_time_s, rec.settings.get("sample_parts") or 1)
        # in a record timed in parts, the command times one part a repetition: its "samples" here are parts
        mine = {"none": (0.0, []), "the run's": (warmup_time(warmup_s, min_time_s, calls, parts), [])}
        try:
            for _ in range(passes):
                for kind, (w, v) in mine.items():
                    ratio, ms = _first_over_rest(cmd, w)
                    v.append(ratio)
                    if kind == "none" and (r.data.get("iterations") or [2])[0] == 1:
                        excess.setdefault(f"{r.id.split('/', 1)[1]} ({r.median_ms:.0f} ms)", []).append(ms)
        except (subprocess.CalledProcessError, StageError, OSError, ValueError) as e:  # one row failing costs only it
            print(f"  {r.id}: not timed again ({e})")
            continue
        for kind, (_, v) in mine.items():
            ratios[kind] += v
        print(f"  {r.id:48s} {r.median_ms:9.3f} ms  first / rest: "
              + "; ".join(f"{kind} " + " ".join(f"{x:.2f}" for x in v) for kind, (_, v) in mine.items()), flush=True)
    for kind, v in ratios.items():
        if v:
            v = sorted(v)
            print(f"warm-up {kind}: first sample / the rest, median {statistics.median(v):.3f}, "
                  f"p90 {v[int(0.9 * (len(v) - 1))]:.3f}, max {v[-1]:.3f} over {len(v)} processes")
    if excess:
        print("rows of one call a sample, the first call's excess without a warm-up (ms): "
              + "; ".join(f"{row} " + " ".join(f"{x:+.1f}" for x in v) for row, v in excess.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("record", nargs="?", default="latest", help="a run record: path, run id or 'latest' (default)")
    ap.add_argument("--bias", action="store_true", help="time each IREE row again without and with a warm-up")
    ap.add_argument("--layer", action="append", default=[], help="with --bias: only these layers (by name)")
    ap.add_argument("--passes", type=int, default=2, help="with --bias: processes of each kind per row")
    args = ap.parse_args()
    try:
        path = find_run(args.record)
        rec = Record(json.loads(path.read_text()))
    except (UserError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{path}: {rec.data.get('created', '?')}")
    print_cost(timing_cost(rec))
    if args.bias:
        warmup_bias(rec, args.layer, args.passes)


if __name__ == "__main__":
    main()
