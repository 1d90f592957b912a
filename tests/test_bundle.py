"""A bundle round trip: compiled here, run in a separate process that has only IREE's runtime tools
and Python's standard library (no torch, no compiler, no numpy), imported back as a run record."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from suite.cli import main
from targets.iree_tools import runtime_tool
from suite.record import load_record

TOOLS = str(Path(runtime_tool("iree-run-module")).parent)
BARE = [sys.executable, "-I", "-S"]            # isolated, no site-packages: the standard library only


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, shared_cache_dir):
    tmp = tmp_path_factory.mktemp("bundle")
    assert main(["bundle", "-t", "llvm-cpu", "-o", str(tmp / "b"), "-l", "tiny-r2", "-m", "C-SP,D-SP",
                 "-a", "REVD2,TDC", "--cache-dir", str(shared_cache_dir)]) == 0
    return tmp


def run_bundle(folder: Path, out: Path):
    return subprocess.run([*BARE, str(folder / "run_bundle.py"), "--tools", TOOLS, "--repetitions", "9",
                           "--min-time", "0.005", "-o", str(out)], capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin"})


def test_the_device_side_has_no_torch_compiler_or_numpy():
    for module in ("torch", "numpy", "iree.compiler"):
        assert subprocess.run([*BARE, "-c", f"import {module}"], capture_output=True).returncode != 0


def test_bundle_round_trip(bundle, capsys):
    folder = bundle / "b"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["workloads"]) == 3 and manifest["target"] == "llvm-cpu"
    proc = run_bundle(folder, folder / "bundle-result.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert main(["import", str(folder / "bundle-result.json"), "--results-dir", str(bundle / "runs")]) == 0
    (path,) = (bundle / "runs").glob("*.json")
    rec = load_record(path)
    assert [w["status"] for w in rec["workloads"]] == ["ok"] * 3
    assert all(len(w["samples_ms"]) == 9 and w["stats_ms"]["median"] > 0 for w in rec["workloads"])
    assert all(any(c["name"] == "dispatch_count" for c in w["counters"]) for w in rec["workloads"])
    assert main(["show", str(path)]) == 0 and "tiny-r2" in capsys.readouterr().out


def test_the_device_runner_catches_a_wrong_output(bundle):
    folder = bundle / "b"
    exp = folder / "expected" / "n1-c4to3-12x10-k3-r2__D-SP__TDC.npy"
    good = np.load(exp)
    try:
        np.save(exp, good + 0.01)                     # the device now disagrees with the expected output
        proc = run_bundle(folder, bundle / "tampered.json")
        assert proc.returncode == 1
        rows = {w["id"]: w for w in json.loads((bundle / "tampered.json").read_text())["workloads"]}
        bad = rows["n1-c4to3-12x10-k3-r2/D-SP/TDC"]
        assert bad["status"] == "wrong" and bad["samples_ms"] == []
    finally:
        np.save(exp, good)


def test_import_refuses_a_result_from_another_bundle(bundle, tmp_path, capsys):
    result = json.loads((bundle / "b" / "bundle-result.json").read_text()) if (bundle / "b" / "bundle-result.json").exists() else None
    if result is None:
        pytest.skip("round trip did not run")
    result["bundle"] = "someotherid"
    (tmp_path / "r.json").write_text(json.dumps(result))
    assert main(["import", str(tmp_path / "r.json"), "--bundle", str(bundle / "b")]) == 2
    assert "comes from bundle someotherid" in capsys.readouterr().err
