"""One device over SSH, for real: an sshd started here on 127.0.0.1 with throwaway host and user
keys runs the host's modules; the suite pushes the bundle and IREE's tools, runs, verifies and
times there, brings back an ordinary record, and cleans up. Unknown host keys, refused keys and an
unreachable host are one clear line each."""
import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from suite.cli import main
from suite.record import load_record

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
why_not = ("" if Path(SSHD).is_file() and shutil.which("ssh-keygen") and os.geteuid() == 0
           else "needs openssh-server (scripts/install.sh --test installs it) and root for sshd's privilege separation")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory, shared_cache_dir):
    if why_not:
        pytest.skip(why_not)
    tmp = tmp_path_factory.mktemp("sshd")
    (tmp / "cache").symlink_to(shared_cache_dir)
    for name in ("host_key", "user_key", "other_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], check=True)
    (tmp / "authorized_keys").write_text((tmp / "user_key.pub").read_text())
    port = _free_port()
    (tmp / "sshd_config").write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
AuthorizedKeysFile {tmp}/authorized_keys
PidFile {tmp}/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
""")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {proc.stderr.read()[:500]}")
    host_pub = (tmp / "host_key.pub").read_text().split()
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    (tmp / "empty_known_hosts").write_text("")
    yield tmp, port
    proc.terminate()                                      # the server stops with the tests, by itself
    proc.wait(timeout=10)


def _args(tmp, port, key="user_key", known="known_hosts", user=None):
    return ["run", "-l", "tiny-r2", "-m", "C-SP,D-SP", "-a", "TDCF", "--profile", "none", "--repetitions", "9",
            "--min-time", "0.001", "--peers", "none", "--runner", f"ssh://{user or getpass.getuser()}@127.0.0.1:{port}",
            "--ssh-key", str(tmp / key), "--known-hosts", str(tmp / known), "--cache-dir", str(tmp / "cache"),
            "--no-save"]


def test_a_device_over_ssh_runs_verifies_and_times_and_cleans_up(sshd, tmp_path):
    tmp, port = sshd
    before = set(Path("/tmp").glob("upsampling-suite.*"))
    out = tmp_path / "device.json"
    assert main(_args(tmp, port) + ["--json", str(out)]) == 0
    rec = load_record(out)
    assert rec["target"]["runner"].startswith("ssh://") and rec["target"]["device_host"].endswith(f":{port}")
    assert [w["status"] for w in rec["workloads"]] == ["ok", "ok"]
    assert all(len(w["samples_ms"]) == 9 for w in rec["workloads"])
    assert rec["machine"]["kernel"] and "governor" in rec["machine"]          # the device's own fingerprint
    assert set(Path("/tmp").glob("upsampling-suite.*")) == before             # the run's folder is gone
    tools = Path.home() / ".cache" / "upsampling-suite"
    assert any(tools.glob("iree-runtime-*/iree-run-module"))                  # the tools stay, pushed once


@pytest.mark.parametrize("change, message", [
    ({"known": "empty_known_hosts"}, "not found in known_hosts"),
    ({"key": "other_key"}, "Authentication failed"),
])
def test_an_unknown_host_key_or_a_refused_key_is_one_line(sshd, change, message, capsys):
    tmp, port = sshd
    assert main(_args(tmp, port, **change)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_unreachable_device_is_one_line(sshd, capsys):
    tmp, _ = sshd
    assert main(_args(tmp, _free_port())) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and len(err.strip().splitlines()) == 1


def test_a_dropped_connection_leaves_an_incomplete_record_that_resume_finishes(sshd, tmp_path):
    """The device goes away mid-run (its sshd session is killed): the rows finished so far are a
    valid, incomplete record; --resume reconnects, removes what the cut-short run left there and runs
    only what is missing."""
    import sys
    from suite.record import validate
    tmp, port = sshd
    runs = tmp_path / "runs"
    before = set(Path("/tmp").glob("upsampling-suite.*"))
    args = _args(tmp, port)[:-1] + ["-m", "C-NN,D-NN", "--min-time", "0.1", "--results-dir", str(runs)]
    proc = subprocess.Popen([sys.executable, "-m", "suite.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    listener = int((tmp / "sshd.pid").read_text())
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        records = list(runs.glob("*.json"))
        if records and load_record(records[0])["workloads"]:
            break
        time.sleep(0.05)
    subprocess.run(["pkill", "-KILL", "-P", str(listener)])     # every session of the device's sshd: the link drops
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 2, err
    assert "connection was lost after" in err and "--resume" in err and len(err.strip().splitlines()) == 1
    path = next(runs.glob("*.json"))
    rec = load_record(path)
    validate(rec)
    kept = [w["id"] for w in rec["workloads"]]
    assert not rec["complete"] and 1 <= len(kept) < 4 and all(w["status"] == "ok" for w in rec["workloads"])
    assert main(["run", "--resume", str(path), "--results-dir", str(runs), "--cache-dir", str(tmp / "cache")]) == 0
    rec = load_record(path)
    assert rec["complete"] and [w["id"] for w in rec["workloads"]][:len(kept)] == kept
    assert sorted(w["method"] for w in rec["workloads"]) == ["C-NN", "C-SP", "D-NN", "D-SP"]
    assert all(w["status"] == "ok" for w in rec["workloads"]) and len(rec["settings"]["bundles"]) == 2
    assert set(Path("/tmp").glob("upsampling-suite.*")) == before      # the cut-short run's folder too
