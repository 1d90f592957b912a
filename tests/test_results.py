"""The results store and regression checks: schema, old versions, corrupt files, A/A, shifts,
deterministic changes, cross-device comparison -- on real runs."""
import copy
from pathlib import Path

import pytest

from suite.cli import main
from suite.compare import compare_records, regressions
from suite.errors import UserError
from suite.record import load_record, write_record

TINY = "cin=2,cout=2,h=8,w=8,k=3,r=2,name=results-tiny"


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


def test_a_20_percent_shift_is_flagged_and_2_percent_is_not(two_runs):
    a, _, _ = two_runs
    for factor, verdict in ((1.2, "regressed"), (1 / 1.2, "improved"), (1.02, "similar")):
        b = copy.deepcopy(a)
        for w in b["workloads"]:
            w["samples_ms"] = [s * factor for s in w["samples_ms"]]
            w["stats_ms"]["median"] *= factor
        lat = [c for c in compare_records(a, b) if c.metric == "latency_ms"]
        assert any(c.verdict == verdict for c in lat), [(c.verdict, c.p_value) for c in lat]
        for c in lat:
            base = next(w["samples_ms"] for w in a["workloads"] if w["id"] == c.workload)
            spread = (max(base) - min(base)) / sorted(base)[len(base) // 2]
            # only samples that spread wider than the shift itself may leave it undecided
            assert c.verdict == verdict or (c.verdict == "noisy" and spread > abs(factor - 1)), (c, spread)


def test_changed_deterministic_count_is_flagged_and_fails_check(two_runs, capsys):
    a, b, tmp = two_runs
    b = copy.deepcopy(b)
    w = b["workloads"][1]
    for c in w["counters"]:
        if c["name"] == "bytes_read" and not c["dispatch"]:
            c["value"] += 64
    write_record(b, tmp / "b-more-bytes.json")
    write_record(a, tmp / "base.json")
    changes = compare_records(a, b)
    assert [(c.workload, c.metric, c.verdict) for c in changes if c.deterministic] == [
        (w["id"], "iree-static:bytes_read", "regressed")]
    code = main(["check", "--baseline", str(tmp / "base.json"), str(tmp / "b-more-bytes.json"),
                 "--latency", "report", "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 1 and "🚩 regressed" in out and "bytes_read" in out
    assert main(["check", "--baseline", str(tmp / "base.json"), str(tmp / "b.out"), "--latency", "report"]) == 0


def test_absolute_floor_keeps_microsecond_changes_similar(two_runs):
    a, _, _ = two_runs
    b = copy.deepcopy(a)
    for w in b["workloads"]:
        w["samples_ms"] = [s * 1.5 for s in w["samples_ms"]]
        w["stats_ms"]["median"] *= 1.5
    floor = 10 * max(w["stats_ms"]["median"] for w in a["workloads"])
    lat = [c for c in compare_records(a, b, min_delta_ms=floor) if c.metric == "latency_ms"]
    assert lat and {c.verdict for c in lat} == {"similar"}


def test_verification_failure_is_a_regression(two_runs):
    a, _, _ = two_runs
    b = copy.deepcopy(a)                  # the same samples: two real runs may differ in latency too
    b["workloads"][0]["status"] = "wrong"
    assert [c.verdict for c in regressions(compare_records(a, b))] == ["broken"]


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
