"""Reliability, round 2: nothing stored is overwritten, NaN never passes, no input reaches a
traceback or the terminal raw, contradictions are refused. Each case asserts the message, the exit
code, and that what was stored is byte for byte unchanged."""
import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from suite.cache import CompileCache
from suite.cli import build_parser, main
from suite.compare import compare_records, regressions
from suite.record import load_record, write_record

DATA = Path(__file__).parent / "data"
LAYER = "cin=2,cout=2,h=6,w=6,k=3,r=2"


@pytest.fixture
def store(tmp_path):
    """A results folder with one record and a baselines folder with one baseline."""
    runs, bases = tmp_path / "runs", tmp_path / "baselines"
    runs.mkdir()
    bases.mkdir()
    rec = load_record(DATA / "run_v1.json")
    write_record(rec, runs / "r1.json")
    write_record(rec, bases / "ci.json")
    return tmp_path, runs / "r1.json", bases / "ci.json"


def _unchanged(path: Path, before: bytes) -> bool:
    return path.read_bytes() == before


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize("argv, message", [
    (["run", "--layer", LAYER, "-m", "C-SP", "--json", "{rec}"], "exists; the suite does not replace"),
    (["run", "--layer", LAYER, "--no-save", "--json", "{base}"], "exists; the suite does not replace"),
    (["check", "--baseline", "{base}", "{rec}", "-o", "{rec}"], "exists; the suite does not replace"),
    (["run", "--layer", LAYER, "--json", "{tmp}"], "is a folder; name a file"),
    (["run", "--layer", LAYER, "--json", "/proc/version"], "is a system file"),
    (["run", "--layer", LAYER, "--cache-dir", "{rec}"], "exists and is not a folder"),
    (["bundle", "-t", "llvm-cpu", "-l", LAYER, "-o", "{rec}"], "exists and is not a folder"),
    (["deploy", "-n", "espcn", "--mlir", "{tmp}"], "is a folder; name a file"),
])
def test_stored_files_are_never_replaced_and_paths_are_checked_first(store, argv, message, capsys):
    tmp, rec, base = store
    before = {p: p.read_bytes() for p in (rec, base)}
    argv = [a.format(rec=rec, base=base, tmp=tmp) for a in argv]
    assert main(argv + (["--results-dir", str(tmp / "runs")] if argv[0] == "run" else [])) == 2
    assert message in _err(capsys)
    assert all(_unchanged(p, b) for p, b in before.items())


def test_a_baseline_is_not_replaced_twice_and_its_name_cannot_escape(store, capsys):
    tmp, rec, _ = store
    args = ["baseline", str(rec), "--baselines-dir", str(tmp / "baselines")]
    assert main(args + ["--name", "mine"]) == 0
    first = (tmp / "baselines" / "mine.json").read_bytes()
    assert main(args + ["--name", "mine"]) == 2 and "exists" in _err(capsys)
    assert _unchanged(tmp / "baselines" / "mine.json", first)
    assert main(args + ["--name", "mine", "--force"]) == 0
    assert main(args + ["--name", "../../escaped"]) == 2 and "not a plain name" in _err(capsys)
    assert not (tmp / "escaped.json").exists() and not (tmp.parent / "escaped.json").exists()


def test_nan_weights_never_verify(tmp_path, capsys):
    from workloads.networks import build_network
    net, _ = build_network("espcn", 0)
    torch.save({k: torch.full_like(v, math.nan) for k, v in net.state_dict().items()}, tmp_path / "nan.pt")
    assert main(["deploy", "-n", "espcn", "-a", "TDC", "--state-dict", str(tmp_path / "nan.pt")]) == 2
    assert "NaN or Inf" in _err(capsys)


def test_nan_in_a_record_or_a_result_is_refused_and_never_passes_a_check(store, capsys):
    tmp, rec, base = store
    text = rec.read_text()
    doc = json.loads(text)
    doc["workloads"][0]["samples_ms"][0] = math.nan
    bad = tmp / "nan.json"
    bad.write_text(json.dumps(doc))                               # Python writes a bare NaN
    assert main(["check", "--baseline", str(base), str(bad)]) == 2 and "non-finite number NaN" in _err(capsys)
    with pytest.raises(Exception, match="non-finite"):
        write_record(doc, tmp / "never.json")
    assert not (tmp / "never.json").exists()
    # the library itself: a NaN sample is an "invalid" change, a regression even where latency is only reported
    a = load_record(rec)
    b = copy.deepcopy(a)
    b["workloads"][0]["samples_ms"] = [math.nan] * len(b["workloads"][0]["samples_ms"])
    lat = [c for c in compare_records(a, b) if c.metric == "latency_ms"]
    assert [c.verdict for c in regressions(lat, latency_fails=False)] == ["invalid"]


MANIFEST = {"bundle_id": "B1", "target": "aarch64-a72", "seed": 0, "compile_flags": [], "preset": "default",
            "versions": {"iree-base-compiler": "3.13.0", "iree-base-runtime": "3.13.0", "torch": "2.13.0"},
            "workloads": [{"id": "L/C-SP", "layer": "L", "layer_name": None, "method": "C-SP", "algorithm": None,
                           "reference": "C-SP", "tolerance": 1e-5, "compile_command": "iree-compile ...",
                           "static": {"dispatches": []}}]}


def _bundle(tmp: Path, workloads: list[dict]) -> Path:
    (tmp / "b").mkdir()
    (tmp / "b" / "manifest.json").write_text(json.dumps(MANIFEST))
    (tmp / "b" / "bundle-result.json").write_text(json.dumps({
        "schema": "upsampling-suite/bundle-result", "schema_version": 1, "bundle": "B1", "machine":
        {"arch": "aarch64", "cpu": "Cortex-A72", "cpus_usable": 4}, "runtime": "3.13", "device": "local-task",
        "workloads": workloads}))
    return tmp / "b" / "bundle-result.json"


@pytest.mark.parametrize("workloads, message", [
    ([{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [math.nan], "iterations": [1]}], "non-finite"),
    ([{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [math.inf], "iterations": [1]}], "non-finite"),
    ([{"id": "L/C-SP", "status": "totally-fine", "reason": "", "samples_ms": [1.0], "iterations": [1]}],
     "is not one of"),
    ([{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [1.0], "iterations": ["many"]}], "not of type"),
    ([{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": ["1"], "iterations": [1]}], "not of type"),
    ([{"id": "L/nope", "status": "ok", "reason": "", "samples_ms": [1.0], "iterations": [1]}], "not in the bundle"),
    ([{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [1.0], "iterations": [1]}] * 2, "appears twice"),
    ("no-manifest-static", "not a suite bundle manifest"),
])
def test_import_checks_what_it_reads(tmp_path, workloads, message, capsys):
    if workloads == "no-manifest-static":                        # a manifest that lost a field
        result = _bundle(tmp_path, [{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [1.0],
                                     "iterations": [1]}])
        doc = json.loads((tmp_path / "b" / "manifest.json").read_text())
        del doc["workloads"][0]["static"]
        (tmp_path / "b" / "manifest.json").write_text(json.dumps(doc))
    else:
        result = _bundle(tmp_path, workloads)
    assert main(["import", str(result), "--results-dir", str(tmp_path / "runs")]) == 2
    assert message in _err(capsys)
    assert not list((tmp_path / "runs").glob("*.json")) if (tmp_path / "runs").exists() else True


def test_the_same_result_is_not_imported_twice(tmp_path, capsys):
    result = _bundle(tmp_path, [{"id": "L/C-SP", "status": "ok", "reason": "", "samples_ms": [1.5, 1.6],
                                 "iterations": [3, 3]}])
    runs = tmp_path / "runs"
    assert main(["import", str(result), "--results-dir", str(runs)]) == 0
    (stored,) = runs.glob("*.json")
    before = stored.read_bytes()
    assert main(["import", str(result), "--results-dir", str(runs)]) == 2
    assert "was imported already" in _err(capsys) and list(runs.glob("*.json")) == [stored]
    assert stored.read_bytes() == before


MARKUP_CPU = "AMD [/bold] EPYC [bold red]loud[/] \x1b[31mred"


def test_a_record_full_of_markup_and_control_characters_prints_literally(store, capsys):
    tmp, rec, _ = store
    doc = load_record(rec)
    doc["machine"]["cpu"] = MARKUP_CPU
    doc["workloads"][0]["status"], doc["workloads"][0]["reason"] = "run-failed", "boom [/] \x07\x1b[2J"
    write_record(doc, tmp / "runs" / "markup.json")
    capsys.readouterr()
    assert main(["show", str(tmp / "runs" / "markup.json")]) == 0
    out = capsys.readouterr().out
    assert "AMD [/bold] EPYC [bold red]loud[/] \\x1b[31mred" in out and "\x1b[31m" not in out
    assert "boom [/] \\x07\\x1b[2J" in out
    assert main(["history", "C-SP", "--results-dir", str(tmp / "runs")]) == 0
    out = capsys.readouterr().out
    assert "AMD [/bold]" in " ".join(out.split()) and "\x1b" not in out
    assert main(["compare", str(rec), str(tmp / "runs" / "markup.json")]) == 0
    assert "\x1b[31m" not in capsys.readouterr().out


def test_history_keeps_layers_apart_and_refuses_an_unknown_metric(store, capsys):
    tmp, _, _ = store
    assert main(["history", "REVD2", "--results-dir", str(tmp / "runs")]) == 0
    out = capsys.readouterr().out
    assert "workload" in out and "D-SP" in out and "D-NN" in out       # two series, told apart
    assert main(["history", "REVD2", "--metric", "bogus", "--results-dir", str(tmp / "runs")]) == 2
    assert "no stored run of 'REVD2' has a counter 'bogus'" in _err(capsys)


def test_a_corrupt_cached_input_is_detected_and_rewritten(tmp_path):
    cache = CompileCache(tmp_path)
    x = np.arange(64, dtype=np.float32).reshape(1, 1, 8, 8)
    path = cache.input_file(x)
    raw = bytearray(path.read_bytes())
    raw[-8:] = b"\xff" * 8                                        # flipped bytes in the data
    path.write_bytes(bytes(raw))
    assert cache.input_file(x) == path
    np.testing.assert_array_equal(np.load(path), x)


@pytest.mark.parametrize("argv, message", [
    (["run", "--layer", "c=2,cin=3,h=6,w=6,k=3,r=2"], "'cin' contradicts 'c'"),
    (["run", "--layer", "cin=２,cout=2,h=6,w=6,k=3,r=2"], "ASCII digits"),
    (["run", "--resume", "latest", "-m", "C-SP"], "drop --methods"),
    (["run", "--resume", "latest", "--layer", LAYER, "--no-save"], "drop --layer, --no-save"),
    (["run", "--layer", LAYER, "-p", "bogus", "--verify-only"], "unknown profile 'bogus'"),
    (["run", "--layer", LAYER, "-d", "local-sync", "--threads", "4"], "does not take it"),
    (["run", "--layer", LAYER, "--tune", "auto", "--layout", "nchwc"], "unknown layout"),
])
def test_contradictions_are_refused_with_the_reason(store, argv, message, capsys):
    tmp, _, _ = store
    assert main(argv + ["--results-dir", str(tmp / "runs")]) == 2
    assert message in _err(capsys)


def _float_options():
    """(command, option) for every float option of every command (those typed by suite.numbers)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = []
    for name, p in sub.choices.items():
        for a in p._actions:
            if getattr(a.type, "finite_float", False):
                out.append((name, a.option_strings[-1]))
    return out


FLOAT_OPTIONS = _float_options()
REQUIRED = {"check": ["--baseline", "b"], "compare": ["a", "b"]}


def test_every_float_option_is_found():
    assert {("run", "--min-time"), ("run", "--run-timeout"), ("check", "--alpha"), ("compare", "--threshold")} \
        <= set(FLOAT_OPTIONS)


@settings(max_examples=60, deadline=None)
@given(option=st.sampled_from(FLOAT_OPTIONS),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["nan", "inf", "-inf", "-1",
                                                                                         "1e400", "", "x"])))
def test_any_float_for_any_float_option_parses_or_exits_2(option, value):
    command, flag = option
    argv = [command, *REQUIRED.get(command, []), f"{flag}={value}"]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        assert e.code == 2
        return
    v = getattr(args, flag.lstrip("-").replace("-", "_"))
    assert math.isfinite(v)
