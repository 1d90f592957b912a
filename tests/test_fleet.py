"""A fleet on Dask distributed, for real: a scheduler and two workers started here on 127.0.0.1,
advertising two devices -- this host, and this host under qemu-user as an aarch64 device. The
workers cannot import torch, IREE's compiler or the suite (stub packages that refuse are first on
their path): a worker needs only Python, distributed and IREE's runtime. A worker killed mid-run
loses only its current job (its nanny restarts it and the job runs again); a device that leaves
the cluster has its remaining jobs recorded as failed while the other device finishes."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.cli import main
from suite.record import load_record, validate
from targets.edge import qemu_launcher, tools_dir
from targets.iree_tools import runtime_tool
from workloads.errors import UserError

try:
    qemu_launcher("aarch64-a72")
    MISSING = ""
except UserError as e:
    MISSING = str(e)
try:
    import distributed  # noqa: F401
except ImportError:
    MISSING = "needs Dask distributed (scripts/install.sh installs the fleet extra)"
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)
DASK = str(Path(sys.executable).with_name("dask"))
REFUSED = ("torch", "iree/compiler", "suite", "workloads", "targets")


def _worker(tmp: Path, sched: Path, device: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([DASK, "worker", "--scheduler-file", str(sched), "--nthreads", "1", "--resources",
                             f"device:{device}=1", "--name", device, "--no-dashboard"],
                            cwd=tmp, env={**os.environ, "PYTHONPATH": str(tmp / "refuse"), **env},
                            stdout=subprocess.DEVNULL, stderr=open(tmp / f"{device}.log", "w"), start_new_session=True)


@pytest.fixture
def fleet(tmp_path):
    for name in REFUSED:                     # a worker that tried to import these would fail loudly
        pkg = tmp_path / "refuse" / name
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(f"raise ImportError('a fleet worker must not need {name}')\n")
    sched = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(sched)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=open(tmp_path / "scheduler.log", "w"), start_new_session=True)]
    deadline = time.time() + 60
    while not sched.exists() and time.time() < deadline:
        time.sleep(0.1)
    host = {"SUITE_IREE_TOOLS": str(Path(runtime_tool("iree-run-module")).parent)}
    a72 = {"SUITE_IREE_TOOLS": str(tools_dir("aarch64-a72")), "SUITE_TARGET": "aarch64-a72",
           "SUITE_LAUNCHER": "qemu-aarch64 -L /usr/aarch64-linux-gnu"}
    workers = {"host": _worker(tmp_path, sched, "host", host), "a72-qemu": _worker(tmp_path, sched, "a72-qemu", a72)}
    procs += workers.values()
    from distributed import Client
    client = Client(scheduler_file=str(sched), timeout=30, set_as_default=False)
    while len(client.scheduler_info()["workers"]) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert len(client.scheduler_info()["workers"]) == 2, "the two workers did not join"
    yield sched, client, workers
    client.close()
    for p in procs:                          # the cluster stops with the test, by itself
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=30)


def _worker_pid(client, device: str) -> int:
    info = client.scheduler_info()["workers"]
    addr = next(a for a, w in info.items() if f"device:{device}" in w.get("resources", {}))
    return client.run(os.getpid, workers=[addr])[addr]


def _rows(runs: Path, target: str) -> list[dict]:
    for p in runs.glob("*.json"):
        try:
            rec = json.loads(p.read_text())
        except ValueError:
            continue
        if rec["target"]["name"] == target:
            return rec["workloads"]
    return []


def test_a_fleet_runs_every_workload_on_each_device_and_survives_a_dead_worker_and_a_lost_device(fleet, tmp_path,
                                                                                                   shared_cache_dir):
    sched, client, workers = fleet
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "suite.cli", "run", "--cluster", str(sched), "-l", "tiny-r2",
                             "-m", "C-SP,D-SP,C-NN", "-a", "TDCF", "--repetitions", "9", "--min-time", "0.02",
                             "--device-grace", "8", "--results-dir", str(runs), "--cache-dir", str(shared_cache_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    host_killed = device_gone = False
    deadline = time.time() + 240
    while proc.poll() is None and time.time() < deadline and not (host_killed and device_gone):
        if not host_killed and _rows(runs, "llvm-cpu"):
            os.kill(_worker_pid(client, "host"), signal.SIGKILL)       # its nanny restarts it; the job runs again
            host_killed = True
        if not device_gone and _rows(runs, "aarch64-a72"):
            os.killpg(workers["a72-qemu"].pid, signal.SIGKILL)          # nanny and worker: the device is gone
            device_gone = True
        time.sleep(0.05)
    out, err = proc.communicate(timeout=240)
    assert host_killed and device_gone, out[-2000:] + err[-2000:]
    assert proc.returncode == 1, out[-2000:] + err[-2000:]             # some jobs failed: the lost device's
    recs = {load_record(p)["target"]["name"]: load_record(p) for p in runs.glob("*.json")}
    assert set(recs) == {"llvm-cpu", "aarch64-a72"}
    for rec in recs.values():
        validate(rec)
        assert rec["complete"] and rec["target"]["runner"] == f"cluster:{sched}"
    host, a72 = recs["llvm-cpu"], recs["aarch64-a72"]
    assert sorted(w["method"] for w in host["workloads"]) == ["C-NN", "C-SP", "D-SP"]
    assert all(w["status"] == "ok" and len(w["samples_ms"]) == 9 for w in host["workloads"])
    assert host["target"]["device_host"] == "host" and host["verdict"]["layers"]
    assert a72["target"]["emulated"] and a72["target"]["emulator"] == "qemu-user"
    assert a72["machine"]["arch"] == "aarch64" and "not judged" in a72["verdict"]["note"]
    ok = [w for w in a72["workloads"] if w["status"] == "ok"]
    lost = [w for w in a72["workloads"] if w["status"] != "ok"]
    assert ok and lost and len(ok) + len(lost) == 3
    assert all("left the cluster" in w["reason"] or "worker died" in w["reason"] for w in lost)
    assert "emulated: not a device time" in out


def test_an_unreachable_scheduler_or_an_unknown_device_is_one_line(fleet, tmp_path, capsys):
    sched, _, _ = fleet
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = ["run", "-l", "tiny-r2", "-m", "C-SP", "--results-dir", str(tmp_path / "runs")]
    assert main(base + ["--cluster", f"tcp://127.0.0.1:{port}", "--cluster-timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the scheduler" in err and len(err.strip().splitlines()) == 1
    assert main(base + ["--cluster", str(sched), "--cluster-devices", "pi4"]) == 2
    err = capsys.readouterr().err
    assert "pi4 not in the cluster" in err and "a72-qemu, host" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.json"))


def test_an_interrupted_fleet_run_keeps_its_rows_and_resume_finishes_the_device(fleet, tmp_path, shared_cache_dir):
    sched, _, _ = fleet
    runs = tmp_path / "runs"
    # started with SIGINT ignored, as the pytest worker now and then handed it down (the child's
    # SigIgn held SIGINT and SIGQUIT: system()'s mark): Python then installs no handler of its own,
    # and the run must install one
    proc = subprocess.Popen(["sh", "-c", "trap '' INT; exec \"$@\"", "sh",
                             sys.executable, "-m", "suite.cli", "run", "--cluster", str(sched), "--cluster-devices",
                             "host", "-l", "tiny-r2", "-m", "C-SP,D-SP,C-NN", "-a", "TDCF", "--repetitions", "9",
                             "--min-time", "0.1", "--results-dir", str(runs), "--cache-dir", str(shared_cache_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "400"})
    deadline, seen = time.time() + 180, []
    while proc.poll() is None and time.time() < deadline and not seen:
        time.sleep(0.05)
        seen = _rows(runs, "llvm-cpu")
    alive = proc.poll() is None
    proc.send_signal(signal.SIGINT)                                    # Ctrl-C after the first row
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (f"running when signalled: {alive}; rows seen then: {len(seen)}\n"
                                    + out[-2000:] + err[-2000:])
    path = next(runs.glob("*.json"))
    rec = load_record(path)
    kept = [w["id"] for w in rec["workloads"]]
    assert not rec["complete"] and 1 <= len(kept) < 3 and f"suite run --resume {path}" in " ".join(out.split())
    assert main(["run", "--resume", str(path), "--results-dir", str(runs), "--cache-dir", str(shared_cache_dir)]) == 0
    rec = load_record(path)
    assert rec["complete"] and [w["id"] for w in rec["workloads"]][:len(kept)] == kept
    assert sorted(w["method"] for w in rec["workloads"]) == ["C-NN", "C-SP", "D-SP"]
    assert all(w["status"] == "ok" for w in rec["workloads"]) and len(rec["settings"]["bundles"]) == 1
