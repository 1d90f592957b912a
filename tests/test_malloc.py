"""--malloc: the C allocator policy of the processes that run modules (suite/malloc.py), checked on
real child processes and a real run."""
import copy
import json
import os
import platform
import subprocess
import sys

import pytest

from suite.cli import main
from suite.compare import same_testbed
from suite.errors import UserError
from suite.malloc import malloc_env

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the retain policy is glibc's tunables")

# a child that mallocs, touches and frees 256 MiB, then prints how much of it is still resident
FREED_RSS = """
import ctypes, os
libc = ctypes.CDLL("libc.so.6"); libc.malloc.restype = ctypes.c_void_p
n = 256 << 20
p = libc.malloc(n); ctypes.memset(p, 1, n); libc.free(ctypes.c_void_p(p))
print(int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20)
"""


def test_policies_and_a_clear_error_for_an_unknown_one(monkeypatch):
    assert malloc_env("system") == {}
    with pytest.raises(UserError, match="unknown malloc policy 'arena'"):
        malloc_env("arena")
    if platform.libc_ver()[0] == "glibc":
        monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
        tunables = malloc_env("retain")["GLIBC_TUNABLES"]
        assert tunables.startswith("glibc.malloc.arena_max=2:") and "glibc.malloc.mmap_max=0" in tunables
        monkeypatch.setenv("GLIBC_TUNABLES", tunables)
        assert malloc_env("retain")["GLIBC_TUNABLES"] == tunables          # not appended twice


@glibc
def test_retain_keeps_freed_memory_in_the_child_process():
    def resident_mib(env):
        out = subprocess.run([sys.executable, "-c", FREED_RSS], capture_output=True, text=True, check=True,
                             env={**os.environ, **env}).stdout
        return int(out)
    # as it comes, glibc munmaps the freed block (the next call faults it in again); retained, it stays
    assert resident_mib(malloc_env("system")) < 128 <= resident_mib(malloc_env("retain"))


@glibc
def test_a_retain_run_records_the_policy_and_its_command_reproduces_it(tmp_path, capsys, shared_cache_dir):
    args = ["run", "--layer", "cin=2,cout=2,h=6,w=5,k=3,r=2,name=malloc-tiny", "-m", "D-SP", "-a", "TDC",
            "--repetitions", "9", "--min-time", "0.005", "--profile", "none", "--malloc", "retain", "--tune", "none", "--peers", "none",
            "--results-dir", str(tmp_path), "--cache-dir", str(shared_cache_dir), "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    assert "malloc retain" in capsys.readouterr().out
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["settings"]["malloc"] == "retain"
    assert "glibc.malloc.mmap_max=0" in rec["settings"]["runtime_env"]["GLIBC_TUNABLES"]
    (w,) = rec["workloads"]
    assert w["status"] == "ok"
    for stage in ("verify", "time"):
        assert w["commands"][stage].startswith("GLIBC_TUNABLES="), w["commands"][stage]
    cmd = w["commands"]["time"].replace("--benchmark_out=bench.json", f"--benchmark_out={tmp_path / 'again.json'}")
    subprocess.run(cmd, shell=True, check=True, capture_output=True, timeout=300)
    assert json.loads((tmp_path / "again.json").read_text())["benchmarks"]
    # latencies under another policy are not the same testbed: compare and check will not judge them
    other = copy.deepcopy(rec)
    other["settings"]["malloc"] = "system"
    assert not same_testbed(rec, other) and same_testbed(rec, copy.deepcopy(rec))


def test_a_kernel_heavy_cpu_split_points_to_retain_only_under_the_system_allocator():
    from targets.collectors.cpu_samples import page_fault_hint
    from targets.collectors.cpu_samples import KERNEL

    def row(kernel_share):
        return [{"collector": "cpu-samples", "name": "cpu_share", "dispatch": KERNEL, "value": kernel_share},
                {"collector": "cpu-samples", "name": "cpu_share", "dispatch": "main$d1_conv", "value": 1 - kernel_share}]
    hint = page_fault_hint([row(0.7), row(0.05)], "system")
    assert hint.startswith("1 workload(s)") and "--malloc retain" in hint
    assert page_fault_hint([row(0.05)], "system") is None
    assert page_fault_hint([row(0.7)], "retain") is None
