#!/usr/bin/env python3
"""Run an upsampling-suite bundle on the device: needs python3 (standard library only) and IREE's
runtime tools (iree-run-module, iree-benchmark-module) -- no torch, no compiler, no numpy.

    python3 run_bundle.py [--tools DIR] [--device local-task] [--repetitions 10] [-o result.json]
    python3 run_bundle.py --describe [--tools DIR]      # the device's fingerprint, as JSON

Each module is first run and its output compared with the expected output the bundle carries
(iree-run-module --expected_output, absolute tolerance from the manifest); only a verified module is
timed (iree-benchmark-module, JSON). Every finished workload is printed as one `ROW {json}` line and
the result file is rewritten after each one, so a run cut short keeps what it finished. The result
file goes back to the host: `suite import FILE`.

The same functions serve a fleet worker (`suite run --cluster`), which imports this file: such a
worker is configured by its environment -- SUITE_IREE_TOOLS (the tools' folder; default: PATH),
SUITE_LAUNCHER (a command prefix such as "qemu-aarch64 -L /usr/aarch64-linux-gnu") and SUITE_TARGET
(the IREE target its device runs, e.g. aarch64-a72).
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCALE_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def tool(name, tools_dir):
    path = os.path.join(tools_dir, name) if tools_dir else shutil.which(name)
    if not path or not os.path.exists(path):
        raise FileNotFoundError(f"run_bundle: {name} not found" + (f" in {tools_dir}" if tools_dir
                                                             else " on PATH (use --tools DIR)"))
    return path


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")) and not cpu:
                    cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    governor = None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as f:
            governor = f.read().strip()
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"hostname": platform.node(), "arch": platform.machine(), "cpu": cpu or platform.processor() or "unknown",
            "cpu_flags": [], "cpus_online": os.cpu_count(), "cpus_usable": usable, "memory_bytes": None,
            "os": platform.platform(), "kernel": platform.release(), "governor": governor,
            "python": platform.python_version()}


def describe(tools_dir=None, prefix=()):
    """The device's fingerprint and its IREE runtime's version."""
    run = tool("iree-run-module", tools_dir)
    version = subprocess.run([*prefix, run, "--version"], capture_output=True, text=True).stdout.strip()
    return {"machine": machine(), "runtime": version or None}


def run_one(w, folder, tools_dir, device, repetitions, min_time, prefix=()):
    """Verify, then time, one manifest entry whose files lie in ``folder``; the result row."""
    run, bench = tool("iree-run-module", tools_dir), tool("iree-benchmark-module", tools_dir)
    mod, inp, exp = (os.path.join(folder, w[k]) for k in ("module", "input", "expected"))
    base = [f"--module={mod}", f"--device={device}", "--function=main", f"--input=@{inp}"]
    row = {"id": w["id"], "status": "ok", "reason": "", "samples_ms": [], "iterations": []}
    verify = subprocess.run([*prefix, run, *base, f"--expected_output=@{exp}",
                             f"--expected_f32_threshold={w['tolerance']}", "--expected_rtol=0"],
                            capture_output=True, text=True)
    if verify.returncode != 0:
        text = (verify.stderr + verify.stdout).strip().splitlines()
        row.update(status="wrong" if "expected" in " ".join(text).lower() else "run-failed",
                   reason=(text[-1] if text else f"exit {verify.returncode}")[:300])
        return row
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "b.json")
        b = subprocess.run([*prefix, bench, *base, f"--benchmark_repetitions={repetitions}",
                            f"--benchmark_min_time={min_time}s", "--benchmark_min_warmup_time=0.05",
                            "--benchmark_out_format=json", f"--benchmark_out={out}"], capture_output=True, text=True)
        if b.returncode != 0:
            row.update(status="time-failed", reason=(b.stderr.strip().splitlines() or ["?"])[-1][:300])
            return row
        with open(out) as f:
            runs = [r for r in json.load(f)["benchmarks"] if r["run_type"] == "iteration"]
    row["samples_ms"] = [r["real_time"] * SCALE_MS[r["time_unit"]] for r in runs]
    row["iterations"] = [r["iterations"] for r in runs]
    return row


# -- a fleet worker's side: its device is described by its environment --------------------------------

def _worker_device():
    prefix = tuple(shlex.split(os.environ.get("SUITE_LAUNCHER", "")))
    return os.environ.get("SUITE_IREE_TOOLS") or None, prefix


def worker_describe():
    """What a fleet worker's device is: fingerprint, runtime, the target it runs, whether emulated."""
    tools_dir, prefix = _worker_device()
    doc = describe(tools_dir, prefix)
    arch = platform.machine()
    if prefix:                       # a launcher such as qemu-user: the device is the emulated one
        arch = {"qemu-aarch64": "aarch64", "qemu-riscv64": "riscv64"}.get(os.path.basename(prefix[0]), arch)
        doc["machine"]["arch"] = arch
    doc["target"] = os.environ.get("SUITE_TARGET") or {"x86_64": "llvm-cpu", "aarch64": "aarch64-a72"}.get(arch, arch)
    doc["emulated"] = bool(prefix) and os.path.basename(prefix[0]).startswith("qemu")
    doc["launcher"] = list(prefix)
    return doc


def worker_job(job):
    """One (module, device) job on a fleet worker: the files travel inside the job, as bytes."""
    tools_dir, prefix = _worker_device()
    with tempfile.TemporaryDirectory(prefix="upsampling-suite-job.") as folder:
        entry = dict(job["entry"])
        for key in ("module", "input", "expected"):
            name = os.path.basename(entry[key])
            with open(os.path.join(folder, name), "wb") as f:
                f.write(job["files"][key])
            entry[key] = name
        return run_one(entry, folder, tools_dir, job["device"], job["repetitions"], job["min_time"], prefix)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", help="folder holding iree-run-module and iree-benchmark-module")
    ap.add_argument("--device", help="runtime device (default: the manifest's)")
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("--describe", action="store_true", help="print the device's fingerprint as JSON and stop")
    ap.add_argument("-o", "--output", default="bundle-result.json")
    args = ap.parse_args()
    try:
        return _run(args)
    except FileNotFoundError as e:
        sys.exit(str(e))


def _run(args):
    if args.describe:
        print(json.dumps(describe(args.tools)))
        return 0
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    device = args.device or manifest["device"]
    about = describe(args.tools)
    doc = {"schema": "upsampling-suite/bundle-result", "schema_version": 1, "bundle": manifest["bundle_id"],
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": about["machine"],
           "runtime": about["runtime"], "device": device, "complete": False, "workloads": []}
    for w in manifest["workloads"]:
        row = run_one(w, HERE, args.tools, device, args.repetitions, args.min_time)
        doc["workloads"].append(row)
        _write(doc, args.output)                  # a run cut short keeps every finished row
        print("ROW " + json.dumps(row), flush=True)
        print(f"{w['id']}: {row['status']}" + (f": {row['reason']}" if row["reason"] else ""), file=sys.stderr,
              flush=True)
    doc["complete"] = True
    _write(doc, args.output)
    print(f"result: {args.output}", file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in doc["workloads"]) else 1


def _write(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
