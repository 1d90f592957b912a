"""Tuning through the real compiler and runtime: the search picks the faster lowering, a second run
takes it from the database without compiling, and a corrupt or foreign database is set aside and
rebuilt, never trusted."""
import json

import pytest

from suite.cli import main
from suite.record import load_record
from suite.rounds import calls_per_sample
from targets.iree_run import Timing, benchmark_module, joined, sample_parts, timed_parts, warmup_time

# 32 -> 1 channels at r = 3: IREE's default NCHW lowering of the conv is several times slower than
# the blocked NHWC one here (ESPCN's shape, smaller), so the search has a clear winner to find
LAYER = "cin=32,cout=1,h=48,w=48,k=3,r=3,name=tune-tiny"


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tune")
    args = ["run", "--layer", LAYER, "-m", "C-SP,D-SP", "-a", "TDCF", "--profile", "none", "--peers", "none", "--repetitions", "9",
            "--min-time", "0.01", "--tuning-dir", str(tmp / "tuning"), "--cache-dir", str(tmp / "cache"),
            "--results-dir", str(tmp / "runs")]
    assert main(args + ["--json", str(tmp / "first.json")]) == 0
    return tmp, args


def _modules(tmp):
    return sorted(p.name for p in (tmp / "cache" / "modules").glob("*.vmfb"))


def test_the_search_picks_the_fastest_verified_candidate_and_stores_it(tuned):
    tmp, _ = tuned
    rec = load_record(tmp / "first.json")
    assert rec["settings"]["tune"] == "auto" and len(rec["settings"]["search_space"]) == 5
    assert "REVD form cols8" in rec["settings"]["search_space"]          # the forms it may try are named
    (db,) = (tmp / "tuning").glob("*.json")
    entries = json.loads(db.read_text())["entries"]
    for w in rec["workloads"]:
        assert w["status"] == "ok" and w["tuning"]["source"] == "search"
        cands = w["tuning"]["candidates"]
        assert len(cands) == 4 and all(c["median_ms"] for c in cands)        # every candidate verified and probed
        assert all(len(c["samples_ms"]) == c["samples"] and min(c["samples_ms"]) > 0 for c in cands)
        timed = [c for c in cands if c["status"] == "raced"]
        assert all(c["min_ms"] == min(c["samples_ms"]) for c in cands)
        best = min(timed, key=lambda c: c["min_ms"])          # a race goes to the fastest sample
        assert (w["preset"], w["layout"]) == (best["preset"], best["layout"])
        assert w["tuning"]["chosen"] == f"{w['preset']}/{w['layout']}"
        # a faster candidate existed and was taken: IREE's default lowering is not the winner
        default = next(c for c in cands if (c["preset"], c["layout"]) == ("default", "nchw"))
        assert (w["preset"], w["layout"]) != ("default", "nchw") and default["median_ms"] > best["median_ms"]
        assert entries[w["id"]]["preset"] == w["preset"] and entries[w["id"]]["layout"] == w["layout"]
        # the row is the workload asked for, whatever layout it ran in
        assert w["id"].startswith("n1-c32to1-48x48-k3-r3/") and w["layer_name"] == "tune-tiny"


def test_a_second_run_takes_the_database_and_compiles_nothing(tuned):
    tmp, args = tuned
    before = _modules(tmp)
    assert main(args + ["--json", str(tmp / "second.json")]) == 0
    rec = load_record(tmp / "second.json")
    first = {w["id"]: w for w in load_record(tmp / "first.json")["workloads"]}
    for w in rec["workloads"]:
        assert w["tuning"]["source"] == "database" and w["compile_cached"] is True
        assert (w["preset"], w["layout"]) == (first[w["id"]]["preset"], first[w["id"]]["layout"])
        # the call time the database knows sets the calls per sample: no search for it in the benchmark
        known = next(c["median_ms"] for c in w["tuning"]["candidates"]
                     if f"{c['preset']}/{c['layout']}" == w["tuning"]["chosen"])
        calls = calls_per_sample(known, 0.01)
        assert f"--benchmark_min_time={calls}x" in w["commands"]["time"] and set(w["iterations"]) == {calls}
    assert _modules(tmp) == before


def test_an_algorithm_form_is_searched_where_it_changes_the_module(tmp_path):
    """REVD's phase grid of 14 columns padded to 16 (form cols8) is a candidate of its own, verified and
    raced beside the plain form; the row says which won, and the second run reuses it from the database.
    A grid that is already a multiple of 8 (D-SP at w = 16) has no such candidate."""
    from workloads.layer import LayerConfig
    from workloads.workload import Workload
    assert Workload(LayerConfig(cin=2, cout=2, h=12, w=13, k=3, r=2), "D-NN", "REVD").forms() == ("cols8",)
    assert Workload(LayerConfig(cin=2, cout=2, h=12, w=16, k=3, r=2), "D-SP", "REVD").forms() == ()
    assert Workload(LayerConfig(cin=2, cout=2, h=12, w=13, k=3, r=2), "D-NN", "TDC").forms() == ()
    args = ["run", "--layer", "cin=2,cout=2,h=12,w=13,k=3,r=2", "-m", "D-NN", "-a", "REVD", "--layout", "nchw",
            "--tune", "auto", "--profile", "none", "--peers", "none", "--repetitions", "9", "--min-time", "0.01",
            "--tuning-dir", str(tmp_path / "tuning"), "--cache-dir", str(tmp_path / "cache"),
            "--results-dir", str(tmp_path / "runs")]
    assert main(args + ["--json", str(tmp_path / "first.json")]) == 0
    (w,) = load_record(tmp_path / "first.json")["workloads"]
    cands = w["tuning"]["candidates"]
    assert [(c["preset"], c["layout"], c.get("form", "")) for c in cands] == [("default", "nchw", ""),
                                                                               ("default", "nchw", "cols8")]
    assert w["status"] == "ok" and all(c["status"] in ("raced", "abandoned") and c["median_ms"] for c in cands)
    won = min((c for c in cands if c["status"] == "raced"), key=lambda c: c["min_ms"])
    assert (w["form"] or "") == won.get("form", "") and w["tuning"]["chosen"] == "default/nchw" + (
        "/cols8" if w["form"] else "")
    assert w["id"].endswith("/D-NN/REVD")                  # the row is the workload asked for, in either form
    assert main(args + ["--json", str(tmp_path / "second.json")]) == 0
    (again,) = load_record(tmp_path / "second.json")["workloads"]
    assert again["tuning"]["source"] == "database" and again["compile_cached"] is True
    assert again["form"] == w["form"] and again["status"] == "ok"


def test_a_racer_of_slow_calls_stops_at_its_floor(tuned, monkeypatch):
    """Racers whose samples are fast take all of theirs (the probe's two and two rounds of three); once a
    racer has spent RACE_MAX_TIME_S it stops at RACE_FLOOR samples (set to nothing in the second search,
    so every racer counts as slow). No candidate is dropped by its probe here (ABANDON_RATIO set out of
    reach), so that the better half of four, two, race whatever this machine's timing does."""
    from suite import tuning
    tmp, args = tuned
    monkeypatch.setattr(tuning, "ABANDON_RATIO", 1e9)

    def races(name):                   # a fresh search's samples of each workload's racers
        swap = [a if a != str(tmp / "tuning") else str(tmp / f"tuning-{name}") for a in args]
        assert main(swap + ["--tune", "full", "--json", str(tmp / f"{name}.json")]) == 0
        return [[c["samples"] for c in w["tuning"]["candidates"] if c["status"] == "raced"]
                for w in load_record(tmp / f"{name}.json")["workloads"]]
    fast = races("fast")
    assert fast and all(len(r) == 2 and set(r) == {8} for r in fast)
    monkeypatch.setattr(tuning, "RACE_MAX_TIME_S", 0.0)
    slow = races("slow")
    assert slow and all(len(r) == 2 and set(r) == {tuning.RACE_FLOOR} for r in slow)


def test_calls_per_sample_fill_the_minimum_time():
    assert calls_per_sample(None, 0.05) is None and calls_per_sample(0.0, 0.05) is None
    assert calls_per_sample(1.0, 0.05) == 50 and calls_per_sample(0.3, 0.05) == 167
    assert calls_per_sample(80.0, 0.05) == 1                  # a call longer than the sample: one call


def test_with_a_call_count_the_warm_up_asked_for_is_one_samples_calls():
    """Google Benchmark warms up with one sample's calls, and again if they fell short of the warm-up
    time: asked for half a sample, the first always suffices."""
    assert warmup_time(0.05, 0.05, 303) == 0.025 and warmup_time(0.02, 0.05, 303) == 0.02
    assert warmup_time(0.05, 0.05, None) == 0.05              # no call count: Google Benchmark sizes it
    assert warmup_time(0.1, 0.05, 303) == 0.1                 # a warm-up longer than a sample is kept
    assert warmup_time(0.0, 0.05, 303) == 0.0                 # none asked, none given
    assert warmup_time(0.05, 0.05, 303, 5) == 0.005           # in five parts: half of one part


def test_a_sample_of_a_known_call_count_is_timed_in_parts_and_joined_back():
    """A process warms up with one part of a sample rather than a whole one; the parts' calls add up
    to at most 10% over the sample's, and joined they give the mean call of the whole sample."""
    assert sample_parts(303) == 5 and sample_parts(10) == 5 and sample_parts(3) == 3
    assert sample_parts(7) == 1 and sample_parts(1) == 1 and sample_parts(None) == 1
    for n in range(1, 400):
        p = sample_parts(n)
        assert 1 <= p <= 5 and p * -(-n // p) <= 1.1 * n
    assert timed_parts(303, 0.05, 0.05) == 5 and timed_parts(303, 0.0, 0.05) == 1    # no warm-up: no parts
    assert timed_parts(303, 0.05, 0.01) == 1 and timed_parts(None, 0.05, 0.05) == 1  # kept whole; unknown count
    t = joined(Timing([1.0, 3.0, 2.0, 2.0], [2, 2, 1, 3], "cmd", {}), 2)
    assert t.samples_ms == [2.0, 2.0] and t.iterations == [4, 4] and t.command == "cmd"


def test_a_timed_module_gives_the_samples_asked_for_each_of_its_whole_call_count(cache):
    """Through the real runtime: three samples of ten calls, timed as fifteen repetitions of two."""
    import numpy as np
    from suite.build import build_module
    from suite.calibrate import _chain_mlir
    from targets import get_target
    vmfb = build_module(cache, _chain_mlir(2, 4096), "none", get_target("llvm-cpu").flags("default"), 600).vmfb
    x = cache.input_file(np.full(4096, 1.5, np.float32))
    t = benchmark_module(vmfb, x, ["--device=local-sync"], 3, 0.01, 0.01, 120, iterations=10)
    assert len(t.samples_ms) == 3 and t.iterations == [10, 10, 10] and all(s > 0 for s in t.samples_ms)
    assert "--benchmark_repetitions=15" in t.command and "--benchmark_min_time=2x" in t.command
    assert "--benchmark_min_warmup_time=0.001" in t.command                 # half of one part of 10 ms
    for warmup_s in (0.0, 0.05):      # none, or one longer than a sample (kept whole): no parts
        plain = benchmark_module(vmfb, x, ["--device=local-sync"], 3, 0.01, warmup_s, 120, iterations=10)
        assert plain.iterations == [10, 10, 10] and "--benchmark_repetitions=3" in plain.command


def test_a_run_over_a_named_space_keeps_its_own_database(tuned):
    """`--preset/--layout` name another search space: its decisions go to a file of their own, and
    the default space's database stays trusted for the next default run."""
    import shutil
    tmp, args = tuned
    own = tmp / "tuning-named"
    shutil.copytree(tmp / "tuning", own)
    (default_db,) = own.glob("*.json")
    before = default_db.read_text()
    named = [a if a != str(tmp / "tuning") else str(own) for a in args]
    assert main(named + ["--tune", "auto", "--preset", "default", "--layout", "nchw", "--no-save"]) == 0
    assert default_db.read_text() == before
    (other,) = [p for p in own.glob("*.json") if p != default_db]
    assert other.stem.startswith(default_db.stem + "-space") and ".untrusted-" not in other.name
    assert json.loads(other.read_text())["space"] == ["default/nchw", "REVD form cols8"]


@pytest.mark.parametrize("damage", ["corrupt", "foreign"])
def test_a_corrupt_or_foreign_database_is_set_aside_and_rebuilt(tuned, damage, capsys):
    tmp, args = tuned
    (db,) = [p for p in (tmp / "tuning").glob("*.json") if ".untrusted-" not in p.name]
    doc = json.loads(db.read_text())
    if damage == "corrupt":
        db.write_text(db.read_text()[:200])
    else:                                  # another machine's decisions, or a tampered winner: never trusted
        doc["testbed"]["machine"] = "0123456789ab"
        db.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(args + ["--tune", "auto", "--json", str(tmp / f"{damage}.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())            # rich wraps long lines
    assert "set aside" in out and ("corrupt" in out if damage == "corrupt" else "another testbed" in out)
    rec = load_record(tmp / f"{damage}.json")
    assert all(w["tuning"]["source"] == "search" for w in rec["workloads"])
    rebuilt = json.loads(db.read_text())
    assert rebuilt["testbed"]["machine"] != "0123456789ab"
    assert set(rebuilt["entries"]) == {w["id"] for w in rec["workloads"]}
    assert any(p.name.startswith(db.stem + ".untrusted-") for p in (tmp / "tuning").iterdir())


def test_tune_none_runs_iree_defaults(tmp_path):
    args = ["run", "--layer", LAYER, "-m", "C-SP", "--profile", "none", "--peers", "none", "--repetitions", "9", "--min-time", "0.01",
            "--tune", "none", "--tuning-dir", str(tmp_path / "tuning"), "--cache-dir", str(tmp_path / "cache"),
            "--no-save", "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    (w,) = load_record(tmp_path / "r.json")["workloads"]
    assert w["preset"] == "default" and w.get("tuning") is None and not (tmp_path / "tuning").exists()
