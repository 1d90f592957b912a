"""Faults lose nothing and explain themselves: time limits kill compiles and runs, Ctrl-C keeps a
valid incomplete record that --resume finishes, a half-written cache entry is rebuilt."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from suite.cli import main
from suite.record import load_record
from workloads.catalogue import catalogue
from workloads.workload import expand

LAYER = "cin=2,cout=2,h=6,w=6,k=3,r=2,name=rel"


def cli(*args, cache):
    env = {**os.environ, "SUITE_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "suite.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_a_compile_time_limit_fails_each_workload_and_the_run_goes_on(tmp_path, capsys):
    code = main(["run", "--layer", LAYER, "-m", "C-SP,D-SP", "-a", "TDC", "--compile-timeout", "0.01",
                 "--no-cache", "--cache-dir", str(tmp_path / "c"), "--profile", "none", "--tune", "none", "--peers", "none",
                 "--results-dir", str(tmp_path), "--json", str(tmp_path / "r.out")])
    rec = load_record(tmp_path / "r.out")
    assert code == 1 and rec["complete"] and len(rec["workloads"]) == 2
    assert all(w["status"] == "compile-failed" and "timed out after 0.01 s" in w["reason"] for w in rec["workloads"])


def test_a_run_time_limit_fails_the_run_not_the_suite(tmp_path):
    code = main(["run", "--layer", LAYER, "-m", "D-SP", "-a", "REVD2", "--run-timeout", "0.001", "--profile", "none", "--tune", "none", "--peers", "none",
                 "--results-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c"), "--json", str(tmp_path / "r.out")])
    (w,) = load_record(tmp_path / "r.out")["workloads"]
    # the limit fails the row at its first run: the verification's, or (a child that wins the race
    # against a 1 ms limit, as a real-time one may) the timing's
    assert code == 1 and w["status"] in ("run-failed", "time-failed") and "timed out" in w["reason"]


def test_ctrl_c_keeps_finished_workloads_and_resume_finishes_the_rest(tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    # two tiny layers of 3 workloads: a layer's rows are timed in rounds and land together, so stop
    # once the first layer is on disk, in the middle of the second (the whole tiny catalogue took 100 s)
    pick = ["-m", "C-SP,D-SP", "-a", "TDC,TDCF"]
    per_layer = len(expand(catalogue("tiny")[:1], ["C-SP", "D-SP"], ["TDC", "TDCF"]))
    total = 2 * per_layer
    args = ["run", "-l", "tiny-r2", "-l", "tiny-k4-r3", *pick, "--profile", "none", "--tune", "none", "--peers", "none",
            "--repetitions", "9", "--min-time", "0.001", "--results-dir", str(runs)]
    proc = cli(*args, cache=cache)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:      # wait until the first layer is on disk
        files = list(runs.glob("*.json")) if runs.exists() else []
        if files and len(json.loads(files[0].read_text())["workloads"]) >= per_layer:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err
    (path,) = runs.glob("*.json")
    partial = load_record(path)
    assert partial["complete"] is False and per_layer <= len(partial["workloads"]) < total
    proc = cli("run", "--resume", str(path), "--results-dir", str(runs), cache=cache)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err
    done = load_record(path)
    assert done["complete"] is True and len(done["workloads"]) == total
    assert len({w["id"] for w in done["workloads"]}) == total
    assert done["workloads"][:len(partial["workloads"])] == partial["workloads"]     # nothing redone, nothing lost
    assert main(["run", "--resume", str(path)]) == 2                                    # complete: nothing to resume


def test_a_half_written_cache_entry_is_rebuilt(tmp_path):
    args = ["run", "--layer", LAYER, "-m", "D-SP", "-a", "TDC", "--verify-only", "--profile", "none",
            "--no-save", "--cache-dir", str(tmp_path)]
    assert main(args) == 0
    (vmfb,) = (tmp_path / "modules").glob("*.vmfb")
    vmfb.write_bytes(vmfb.read_bytes()[:100])          # a crash mid-write
    assert main(args) == 0
    assert len(vmfb.read_bytes()) > 100


@pytest.mark.parametrize("args, message", [
    (["run", "--layer", LAYER, "--json", "/nonexistent/dir/r.json"], "the folder /nonexistent/dir does not exist"),
    (["run", "--layer", LAYER, "--compile-timeout", "0"], "--compile-timeout must be > 0"),
    (["run", "--layer", LAYER, "--preset", "turbo"], "has no preset 'turbo'"),
    (["run", "--layer", LAYER, "--counters", "geiger"], "unknown counter collector 'geiger'"),
    (["run", "--resume", "/nonexistent/run.json"], "cannot read"),
])
def test_more_bad_input(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
