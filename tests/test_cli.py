"""The CLI as a user meets it: a real run on a tiny layer, its table and JSON record, bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.cli import main

TINY = "cin=2,cout=2,h=6,w=5,k=3,r=2,name=cli-tiny"


def run_cli(*args, cache_dir):
    env = {**os.environ, "SUITE_CACHE_DIR": str(cache_dir), "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "suite.cli", *args], capture_output=True, text=True, env=env,
                          timeout=900)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, shared_cache_dir):
    tmp = tmp_path_factory.mktemp("cli")
    # repeated -m / -a add up (a comma list and a second flag): 4 workloads, not just the last flag's
    proc = run_cli("run", "--layer", TINY, "--methods", "C-SP,C-NN", "-m", "D-SP", "--algorithms", "REVD2", "-a", "STRD",
                   "--repetitions", "9", "--min-time", "0.005", "--results-dir", str(tmp / "runs"),
                   "--json", str(tmp / "out.json"), "--profile", "rpi4-a72", "--tune", "none", "--peers", "none",
                   cache_dir=shared_cache_dir)
    return proc, tmp


def test_run_prints_a_table_and_writes_the_record(cli_run):
    proc, tmp = cli_run
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("cli-tiny", "C-SP", "D-SP", "REVD2", "STRD", "median ms", "vs C-SP", "4/4 workloads verified",
                 "model ms", "x model", "Kendall tau", "not measured on this machine"):
        assert text in out
    stored = list((tmp / "runs").glob("*.json"))
    assert len(stored) == 1 and f"run record: {stored[0]}" in out
    rec = json.loads((tmp / "out.json").read_text())
    assert rec == json.loads(stored[0].read_text())
    assert rec["schema_version"] == 2 and rec["complete"] is True
    # by default one unpinned worker per usable CPU (suite.selection.run_threads), named in the commands
    threads = rec["machine"]["cpus_usable"]
    assert {k: rec["target"][k] for k in ("name", "device", "threads", "runs_here", "emulated")} == {
        "name": "llvm-cpu", "device": "local-task", "threads": threads, "runs_here": True, "emulated": False}
    assert f"--task_topology_group_count={threads}" in rec["workloads"][0]["commands"]["time"]
    assert "--iree-llvmcpu-target-cpu=host" in rec["target"]["compile_flags"]
    assert rec["versions"]["iree-base-compiler"] == "3.13.0" and rec["machine"]["cpus_usable"] >= 1
    assert [w["id"].split("/", 1)[1] for w in rec["workloads"]] == ["C-SP", "C-NN", "D-SP/REVD2", "D-SP/STRD"]
    for w in rec["workloads"]:
        # timed in two rounds, and a third of 3 where they disagreed (suite.rounds)
        assert w["status"] == "ok" and w["rounds"] in ([5, 4], [5, 4, 3])
        assert len(w["samples_ms"]) == len(w["iterations"]) == sum(w["rounds"])
        s = w["stats_ms"]                  # of the rounds no slow phase of the machine reached (suite.stats.settle)
        left_out = sum(w["rounds"][i] for i in w["rounds_left_out"])
        assert s["n"] == len(w["samples_ms"]) - left_out >= 3 and s["q1"] <= s["median"] <= s["q3"] <= s["max"] and s["p90"] >= s["median"]
        assert "iree-benchmark-module" in w["commands"]["time"] and f"--benchmark_repetitions={len(w['samples_ms'])}" in w["commands"]["time"]
        assert w["max_abs_err"] <= w["tolerance"]
        assert Path(w["commands"]["verify"].split("--module=")[1].split()[0]).exists()
        assert w["model"]["profile"] == "rpi4-a72" and w["model"]["t_ms"] > 0 and w["model"]["macs"] > 0
    assert rec["model"]["profile"]["measured_here"] is False and rec["model"]["profile"]["estimate"] is True
    agree = rec["model"]["layers"][rec["workloads"][0]["layer"]]
    assert agree["n"] == 4 and -1 <= agree["kendall_tau"] <= 1 and rec["model"]["mdape_percent"] >= 0


def test_roofline_of_the_stored_run(cli_run):
    _, tmp = cli_run
    proc = run_cli("roofline", "--results-dir", str(tmp / "runs"), "-o", str(tmp / "roof.png"),
                   cache_dir=tmp / "cache")
    assert proc.returncode == 0, proc.stderr
    assert "% of roof" in proc.stdout and "D-SP REVD2" in proc.stdout
    assert (tmp / "roof.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_timing_command_in_the_record_reproduces_the_number(cli_run):
    _, tmp = cli_run
    rec = json.loads((tmp / "out.json").read_text())
    cmd = rec["workloads"][0]["commands"]["time"].replace("--benchmark_out=bench.json",
                                                          f"--benchmark_out={tmp / 'again.json'}")
    subprocess.run(cmd, shell=True, check=True, capture_output=True, timeout=300)
    again = json.loads((tmp / "again.json").read_text())
    assert len([b for b in again["benchmarks"] if b["run_type"] == "iteration"]) == len(rec["workloads"][0]["samples_ms"])


@pytest.mark.parametrize("args, message", [
    (["run", "--target", "tpu"], "unknown target 'tpu'"),
    (["run", "--layer", "cin=2,cout=2,h=2,w=2,k=5,r=2,pad=0"], "larger than the padded input"),
    (["run", "--layer", "cin=2,cout=two,h=6,w=6,k=3,r=2"], "cout must be an integer"),
    (["run", "--layer", "nosuchlayer"], "neither key=value pairs nor a catalogue layer"),
    (["run", "--catalogue", "nope"], "unknown catalogue 'nope'"),
    (["run", "--catalogue", "tiny,nope"], "unknown catalogue 'nope'"),
    (["run", "--layer", TINY, "--layout", "nchwc"], "unknown layout 'nchwc'"),
    (["run", "--layer", TINY + ",layout=hwcn"], "layout 'hwcn' is not supported"),
    (["run", "--layer", TINY, "--methods", "D-XX"], "unknown method 'D-XX'"),
    (["run", "--layer", TINY, "--algorithms", "FFT"], "unknown algorithm 'FFT'"),
    (["run", "--layer", TINY, "--device", "cuda"], "has no device 'cuda'"),
    (["run", "--layer", TINY, "--repetitions", "3"], "at least 9"),
    (["run", "--layer", TINY, "--threads", "0"], "at least 1"),
    (["run", "--layer", TINY, "--results-dir", "/proc/forbidden"], "--results-dir: cannot create /proc/forbidden"),
    (["run", "--repetitions", "many"], "--repetitions must be an integer"),
    (["frobnicate"], "invalid choice"),
    (["model", "--profile", "pdp11"], "unknown profile 'pdp11'"),
    (["roofline", "/nonexistent/run.json"], "cannot read /nonexistent/run.json"),
])
def test_bad_input_gives_one_line_and_exit_code_2(args, message, capsys):
    try:
        code = main(args)
    except SystemExit as e:                      # argparse's own errors exit from inside
        code = e.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_input_through_the_installed_entry_point(tmp_path):
    proc = run_cli("run", "--target", "nonsense", cache_dir=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("suite: error: unknown target 'nonsense' (known: llvm-cpu")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_model_command_reproduces_the_paper_table(capsys):
    assert main(["model", "-c", "sweep-1024", "-m", "C-SP,D-SP,D-NN", "-a", "REVD2,STRD", "--profile", "gtx680"]) == 0
    out = capsys.readouterr().out
    assert "Choi" in out and "one MAC = one flop" in out and "not measured on this machine" in out
    for ratio in ("2.60", "2.23", "2.80", "2.35", "2.88", "2.39", "5.53", "6.74", "0.86"):
        assert ratio in out


def test_list_and_targets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "espcn" in out and "REVD2" in out and "D-NN" in out
    assert main(["targets"]) == 0
    out = capsys.readouterr().out
    # llvm-cpu runs here; the cross targets are compile-only, each with its reason
    rows = {ln.split("│")[1].strip(): ln for ln in out.splitlines() if ln.count("│") > 3 and ln.split("│")[1].strip()}
    assert "yes" in rows["llvm-cpu"] and "compile-only" in rows["aarch64-a72"] and "compile-only" in rows["riscv64"]


def test_repeated_preset_and_layout_options_add_up(tmp_path, shared_cache_dir):
    proc = run_cli("run", "--layer", TINY, "-m", "C-SP", "--preset", "default", "--preset", "channels-last",
                   "--layout", "nchw", "--layout", "nhwc", "--verify-only", "--no-save", "--json", str(tmp_path / "r.json"),
                   "--profile", "none", "--counters", "none", cache_dir=shared_cache_dir)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["workloads"]
    assert sorted((r["layer"].endswith("-nhwc"), r["preset"]) for r in rows) == [
        (False, "channels-last"), (False, "default"), (True, "channels-last"), (True, "default")]


def test_a_name_given_twice_in_repeated_options_runs_once():
    from suite.run import make_plan
    plan = make_plan(layers=[TINY], methods=["C-SP,D-SP", "D-SP,C-NN"], algorithms=["TDCF", "TDCF"],
                     profile="none", tune="none")
    assert plan.methods == ["C-SP", "D-SP", "C-NN"] and plan.algorithms == ["TDCF"]
    assert len({w.id for w in plan.workloads()}) == len(plan.workloads()) == 3


def test_local_task_here_gets_one_unpinned_worker_per_cpu_and_elsewhere_iree_chooses():
    """suite.selection.run_threads: a run on this host names the worker count (which IREE leaves
    unpinned), one per usable CPU unless --threads says otherwise; a device that is not this CPU's
    local-task keeps IREE's own choice."""
    from suite.run import make_plan
    cpus = len(os.sched_getaffinity(0))
    kw = {"layers": [TINY], "profile": "none", "tune": "none"}
    assert make_plan(**kw).threads == cpus and make_plan(threads=1, **kw).threads == 1
    assert make_plan(device="local-sync", **kw).threads is None
    assert make_plan(target="aarch64-a72", runner="qemu", **kw).threads is None
    assert make_plan(target="vulkan", **kw).threads is None


def test_preset_names_survive_rich_markup_under_the_table(cli_run):
    """'[channels-last]' looks like a rich style tag; the failure line must show it, not swallow it."""
    from rich.console import Console
    from suite.report import print_run
    _, tmp = cli_run
    rec = json.loads((tmp / "out.json").read_text())
    rec["workloads"][0].update(status="failed", reason="compile: error [x]", preset="channels-last")
    console = Console(record=True, width=200)
    print_run(rec, console)
    assert f"{rec['workloads'][0]['id']} [channels-last]: failed: compile: error [x]" in console.export_text()


def test_tables_are_never_cut(cli_run):
    """Into a file or a CI log a table is printed at its own width; on a narrow terminal it leaves
    out optional columns (and says so) and shortens names, but never ends a number in '…'."""
    import io
    from rich.console import Console
    from suite.report import _ms, print_run
    _, tmp = cli_run
    rec = json.loads((tmp / "out.json").read_text())
    log = Console(file=io.StringIO(), width=60, force_terminal=False)
    print_run(rec, log)
    text = log.file.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) > 60
    assert "left out" not in text and "p90 ms" in text
    tty = Console(file=io.StringIO(), width=90, force_terminal=True, color_system=None)
    print_run(rec, tty)
    text = tty.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 90
    assert "left out to fit 90 columns: p90 ms" in text and "p90 ms" not in text.split("left out")[0]
    medians = [_ms(w["stats_ms"]["median"]) for w in rec["workloads"]]
    table = [line for line in text.splitlines() if line.startswith("│")]
    assert all(any(f" {m} " in line for line in table) for m in medians)
    assert not any("…" in cell for line in table for cell in line.split("│")[4:])   # past the names
