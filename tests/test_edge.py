"""Cross-compiled aarch64 modules executed for real: IREE's own aarch64 runtime under qemu-user
(scripts/install.sh --edge), outputs verified against the same torch references, timings labelled
emulated and never compared as device latency."""
import subprocess

import pytest

from suite.cli import main
from suite.record import load_record
from targets.edge import qemu_launcher
from workloads.errors import UserError

try:
    qemu_launcher("aarch64-a72")
    MISSING = ""
except UserError as e:
    MISSING = str(e)

needs_qemu = pytest.mark.skipif(bool(MISSING), reason=MISSING)
ARGS = ["-l", "tiny-r2", "-m", "C-SP,C-NN,D-SP", "-a", "TDCF,REVD2,REVD2-HW", "--profile", "none", "--repetitions", "9",
        "--min-time", "0.001", "--peers", "none"]


@needs_qemu
def test_aarch64_modules_run_under_qemu_and_verify(tmp_path, capsys, shared_cache_dir):
    out = tmp_path / "a72.json"
    assert main(["run", *ARGS, "--target", "aarch64-a72", "--runner", "qemu", "--cache-dir", str(shared_cache_dir),
                 "--no-save", "--json", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    rec = load_record(out)
    assert rec["target"]["emulated"] is True and rec["target"]["runner"] == "qemu"
    assert "emulated: not a device time" in text and "median ms (emulated)" in text
    assert "--iree-llvmcpu-target-triple=aarch64-unknown-linux-gnu" in rec["target"]["compile_flags"]
    assert len(rec["workloads"]) == 5            # REVD2-HW: the hand-written kernel built for aarch64
    for w in rec["workloads"]:
        assert w["status"] == "ok" and w["max_abs_err"] <= w["tolerance"], w
        assert "qemu-aarch64" in w["commands"]["verify"] and "aarch64" in w["commands"]["time"]
    assert rec["verdict"]["layers"] == [] and "not judged" in rec["verdict"]["note"]
    # the runtime really is an aarch64 binary
    tool = w["commands"]["verify"].split()[3]
    assert "ARM aarch64" in subprocess.run(["file", tool], capture_output=True, text=True).stdout


@needs_qemu
def test_compare_and_check_never_treat_emulated_times_as_latency(tmp_path, capsys, shared_cache_dir):
    common = [*ARGS, "-m", "C-SP", "--tune", "none", "--cache-dir", str(shared_cache_dir), "--no-save"]
    assert main(["run", *common, "--target", "aarch64-a72", "--runner", "qemu", "--json", str(tmp_path / "q.json")]) == 0
    assert main(["run", *common, "--json", str(tmp_path / "h.json")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "h.json"), str(tmp_path / "q.json")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "latencies are not device times, so none are compared" in out and "ms" not in out.split("correctness")[1]
    assert main(["check", "--baseline", str(tmp_path / "h.json"), str(tmp_path / "q.json")]) == 0
    assert "latency not compared" in capsys.readouterr().out


def test_qemu_for_a_target_without_an_emulated_runtime_is_refused(capsys):
    assert main(["run", "-l", "tiny-r2", "--target", "llvm-cpu", "--runner", "qemu", "--no-save"]) == 2
    assert "no emulated runtime for target 'llvm-cpu'" in capsys.readouterr().err
