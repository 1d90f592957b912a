"""The results store and regression checks: schema, old versions, corrupt files, cross-device
comparison. The comparison's statistics are tested on synthetic records whose samples are drawn
with a known shift; only the A/A test makes real runs (two, back to back, as CI compares them)."""
import copy
from pathlib import Path

import numpy as np
import pytest

from suite.cli import main
from suite.compare import compare_records, regressions
from suite.errors import UserError
from suite.record import load_record, new_record, validate, write_record
from suite.runner import WorkloadResult
from suite.stats import summarize
from targets.collectors import CounterValue

TINY = "cin=2,cout=2,h=8,w=8,k=3,r=2,name=results-tiny"
WORKLOADS = {"syn/C-SP": 1.0, "syn/D-SP/TDC": 0.4, "syn/D-SP/REVD2": 2.5}


def synthetic(factor: float = 1.0, seed: int = 0, n: int = 15, spread: float = 0.02, bytes_read: int = 1000,
              phase: float | None = None) -> dict:
    """A valid run record whose samples are drawn around known medians (lognormal, ``spread``
    relative), every median scaled by ``factor``; each row with its static byte count. ``phase``:
    timed in three rounds, the second of them that much slower (a slow phase of the machine)."""
    rec = new_record("llvm-cpu", "local-task", None, {"seed": 0, "presets": {"default": []}})
    rng = np.random.default_rng(seed)
    for wid, median in WORKLOADS.items():
        samples = [float(v) for v in median * factor * np.exp(rng.normal(0.0, spread, n))]
        method = wid.split("/")[1]
        row = WorkloadResult(id=wid, layer="syn", layer_name="synthetic", method=method,
                             algorithm=wid.split("/")[2] if wid.count("/") == 2 else None, reference="C-SP",
                             status="ok", samples_ms=samples, iterations=[1] * n, stats_ms=summarize(samples),
                             counters=[CounterValue("bytes_read", bytes_read, "B", "static", False, "iree-static")
                                       .to_json()])
        if phase:
            third = n // 3
            samples[third:2 * third] = [v * phase for v in samples[third:2 * third]]
            row.take_samples(samples, [1] * n, [third, third, n - 2 * third])
        rec["workloads"].append(row.to_json())
    rec["complete"] = True
    validate(rec)
    return rec


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, shared_cache_dir):
    """Two real runs of the same workloads, back to back (an A/A pair)."""
    tmp = tmp_path_factory.mktemp("results")
    args = ["run", "--layer", TINY, "-m", "C-SP,D-SP", "-a", "REVD2,TDC", "--device", "local-sync",
            "--repetitions", "15", "--min-time", "0.01", "--results-dir", str(tmp), "--profile", "none", "--tune", "none", "--peers", "none",
            "--cache-dir", str(shared_cache_dir)]
    assert main(args + ["--json", str(tmp / "a.out")]) == 0
    assert main(args + ["--json", str(tmp / "b.out")]) == 0
    return load_record(tmp / "a.out"), load_record(tmp / "b.out"), tmp


def test_a_a_comparison_flags_nothing(two_runs):
    a, b, _ = two_runs
    changes = compare_records(a, b)
    # two real runs, as CI compares them: deterministic metrics identical, no regression
    assert not [c for c in changes if c.deterministic]
    assert regressions(changes, latency_fails=False) == []
    # latency A/A: interleaved halves of the same samples share the machine's drift, so any flag
    # would be the statistics' fault (two separate runs on a loaded 2-core VM can truly differ)
    even, odd = copy.deepcopy(a), copy.deepcopy(a)
    for we, wo in zip(even["workloads"], odd["workloads"]):
        we["samples_ms"], wo["samples_ms"] = we["samples_ms"][0::2], wo["samples_ms"][1::2]
        we["stats_ms"]["median"] = sorted(we["samples_ms"])[len(we["samples_ms"]) // 2]
        wo["stats_ms"]["median"] = sorted(wo["samples_ms"])[len(wo["samples_ms"]) // 2]
    lat = [c for c in compare_records(even, odd) if c.metric == "latency_ms"]
    assert lat and {c.verdict for c in lat} <= {"similar", "noisy"}, [(c.verdict, c.ratio, c.p_value) for c in lat]


@pytest.mark.parametrize("factor, verdict", [(1.2, "regressed"), (1 / 1.2, "improved"), (1.02, "similar"),
                                             (1.0, "similar")])
def test_a_known_shift_gets_its_verdict_on_every_workload(factor, verdict):
    """Fresh draws (another seed) around medians shifted by ``factor``: a 20% shift is found on
    every workload, a 2% one (inside the 10% threshold) and none are not."""
    lat = [c for c in compare_records(synthetic(), synthetic(factor, seed=1)) if c.metric == "latency_ms"]
    assert len(lat) == len(WORKLOADS) and {c.verdict for c in lat} == {verdict}, [(c.verdict, c.ratio) for c in lat]
    assert all(abs(c.ratio / factor - 1) < 0.03 for c in lat)


def test_a_shift_hidden_in_noise_is_noisy_not_regressed():
    """A 20% shift in samples spread far wider than it (and few of them) cannot be told apart."""
    lat = [c for c in compare_records(synthetic(n=5, spread=0.6), synthetic(1.2, seed=1, n=5, spread=0.6))
           if c.metric == "latency_ms"]
    assert lat and "regressed" not in {c.verdict for c in lat} and "noisy" in {c.verdict for c in lat}


def test_a_slow_phase_in_one_round_is_no_regression_and_a_slower_build_in_every_round_still_is():
    """A row timed in rounds whose second round ran in a slow phase of the machine (2x) keeps that
    round in the record and out of its statistics: against a baseline of its speed it is similar.
    The same row 1.2x slower in every round (the code, not the machine) is still regressed."""
    phased = synthetic(seed=1, phase=2.0)
    w = phased["workloads"][0]
    assert w["rounds"] == [5, 5, 5] and w["rounds_left_out"] == [1] and w["stats_ms"]["n"] == 10
    assert w["stats_ms"]["median"] == pytest.approx(WORKLOADS[w["id"]], rel=0.05)
    assert {c.verdict for c in compare_records(synthetic(), phased) if c.metric == "latency_ms"} == {"similar"}
    slower = synthetic(1.2, seed=1, phase=1.0)                    # rounds that agree: none left out
    assert slower["workloads"][0]["rounds_left_out"] == []
    assert {c.verdict for c in compare_records(synthetic(), slower) if c.metric == "latency_ms"} == {"regressed"}


def test_changed_deterministic_count_is_flagged_and_fails_check(tmp_path, capsys):
    base, more = synthetic(), synthetic(seed=1, bytes_read=1064)
    write_record(base, tmp_path / "base.json")
    write_record(more, tmp_path / "more-bytes.json")
    write_record(synthetic(seed=2), tmp_path / "same.json")
    changes = compare_records(base, more)
    assert [(c.workload, c.metric, c.verdict) for c in changes if c.deterministic] == [
        (wid, "iree-static:bytes_read", "regressed") for wid in WORKLOADS]
    code = main(["check", "--baseline", str(tmp_path / "base.json"), str(tmp_path / "more-bytes.json"),
                 "--latency", "report", "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 1 and "🚩 regressed" in out and "bytes_read" in out
    assert main(["check", "--baseline", str(tmp_path / "base.json"), str(tmp_path / "same.json"),
                 "--latency", "report"]) == 0


def test_absolute_floor_keeps_microsecond_changes_similar():
    a, b = synthetic(), synthetic(1.5, seed=1)
    floor = 10 * max(WORKLOADS.values()) * 1.5
    lat = [c for c in compare_records(a, b, min_delta_ms=floor) if c.metric == "latency_ms"]
    assert len(lat) == len(WORKLOADS) and {c.verdict for c in lat} == {"similar"}
    assert {c.verdict for c in compare_records(a, b) if c.metric == "latency_ms"} == {"regressed"}


def test_verification_failure_is_a_regression():
    a, b = synthetic(), synthetic()
    b["workloads"][0]["status"] = "wrong"
    assert [(c.workload, c.verdict) for c in regressions(compare_records(a, b))] == [("syn/C-SP", "broken")]


def test_records_from_two_machines_compare_side_by_side(two_runs, capsys):
    a, b, tmp = two_runs
    other = copy.deepcopy(b)
    other["machine"]["cpu"] = "Broadcom BCM2711 (Cortex-A72)"
    write_record(other, tmp / "pi.json")
    assert main(["compare", str(tmp / "a.out"), str(tmp / "pi.json")]) == 0
    out = capsys.readouterr().out
    assert "different testbeds" in out and "vs C-SP" in out and "D-SP/REVD2" in out
    assert main(["check", "--baseline", str(tmp / "pi.json"), str(tmp / "a.out")]) == 0
    assert "latency not compared" in capsys.readouterr().out


def test_show_and_history(two_runs, capsys):
    _, _, tmp = two_runs
    assert main(["show", "latest", "--results-dir", str(tmp)]) == 0
    assert "results-tiny" in capsys.readouterr().out
    assert main(["history", "D-SP/REVD2", "--results-dir", str(tmp)]) == 0
    out = capsys.readouterr().out
    # one row per stored record in the folder (the A/A pair and what other tests stored), each ok with its median
    stored = [load_record(f) for f in tmp.glob("*.json")]
    medians = {f"{w['stats_ms']['median']:.3f} ms" for rec in stored for w in rec["workloads"]
               if w["id"].endswith("D-SP/REVD2")}
    assert sum(" ok " in ln for ln in out.splitlines()) == len(stored) >= 2 and all(m in out for m in medians), out


def test_an_old_version_still_loads():
    rec = load_record(Path(__file__).parent / "data" / "run_v1.json")
    assert rec["schema_version"] == 2 and all(w["preset"] == "default" for w in rec["workloads"])


@pytest.mark.parametrize("content, message", [
    ("{ not json", "not valid JSON"),
    ('{"schema": "upsampling-suite/run", "schema_version": 2, "id": "x"', "not valid JSON"),   # truncated
    ('{"schema": "something-else"}', "not an upsampling-suite run record"),
    ('{"schema": "upsampling-suite/run", "schema_version": 99}', "newer than this suite"),
    ('{"schema": "upsampling-suite/run", "schema_version": 2, "id": "x"}', "does not match the run-record schema"),
])
def test_corrupt_truncated_or_future_records_give_a_clear_error(tmp_path, content, message, capsys):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(UserError, match=message):
        load_record(p)
    assert main(["show", str(p)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
