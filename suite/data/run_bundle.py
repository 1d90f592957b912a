#!/usr/bin/env python3
"""Run an upsampling-suite bundle on the device: needs python3 (standard library only) and IREE's
runtime tools (iree-run-module, iree-benchmark-module) -- no torch, no compiler, no numpy.

    python3 run_bundle.py [--tools DIR] [--device local-task] [--repetitions 10] [-o result.json]

Each module is first run and its output compared with the expected output the bundle carries
(iree-run-module --expected_output, absolute tolerance from the manifest); only a verified module is
timed (iree-benchmark-module, JSON). The result file goes back to the host: `suite import FILE`.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def tool(name, tools_dir):
    path = os.path.join(tools_dir, name) if tools_dir else shutil.which(name)
    if not path or not os.path.exists(path):
        sys.exit(f"run_bundle: {name} not found" + (f" in {tools_dir}" if tools_dir else " on PATH (use --tools DIR)"))
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tools", help="folder holding iree-run-module and iree-benchmark-module")
    ap.add_argument("--device", help="runtime device (default: the manifest's)")
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=0.05)
    ap.add_argument("-o", "--output", default="bundle-result.json")
    args = ap.parse_args()
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    run, bench = tool("iree-run-module", args.tools), tool("iree-benchmark-module", args.tools)
    device = args.device or manifest["device"]
    results = []
    for w in manifest["workloads"]:
        mod, inp, exp = (os.path.join(HERE, w[k]) for k in ("module", "input", "expected"))
        base = [f"--module={mod}", f"--device={device}", "--function=main", f"--input=@{inp}"]
        row = {"id": w["id"], "status": "ok", "reason": "", "samples_ms": [], "iterations": []}
        verify = subprocess.run([run, *base, f"--expected_output=@{exp}", f"--expected_f32_threshold={w['tolerance']}",
                                 "--expected_rtol=0"], capture_output=True, text=True)
        if verify.returncode != 0:
            text = (verify.stderr + verify.stdout).strip().splitlines()
            row.update(status="wrong" if "expected" in " ".join(text).lower() else "run-failed",
                       reason=(text[-1] if text else f"exit {verify.returncode}")[:300])
            results.append(row)
            print(f"{w['id']}: {row['status']}: {row['reason']}", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "b.json")
            b = subprocess.run([bench, *base, f"--benchmark_repetitions={args.repetitions}",
                                f"--benchmark_min_time={args.min_time}s", "--benchmark_min_warmup_time=0.05",
                                "--benchmark_out_format=json", f"--benchmark_out={out}"], capture_output=True, text=True)
            if b.returncode != 0:
                row.update(status="time-failed", reason=(b.stderr.strip().splitlines() or ["?"])[-1][:300])
            else:
                with open(out) as f:
                    runs = [r for r in json.load(f)["benchmarks"] if r["run_type"] == "iteration"]
                scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
                row["samples_ms"] = [r["real_time"] * scale[r["time_unit"]] for r in runs]
                row["iterations"] = [r["iterations"] for r in runs]
        results.append(row)
        print(f"{w['id']}: {row['status']}", flush=True)
    version = subprocess.run([run, "--version"], capture_output=True, text=True).stdout.strip()
    doc = {"schema": "upsampling-suite/bundle-result", "schema_version": 1, "bundle": manifest["bundle_id"],
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
           "runtime": version, "device": device, "workloads": results}
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, args.output)
    print(f"result: {args.output}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
