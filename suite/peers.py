"""Peer runtimes in a run: each (layer, method, peer) is verified against the same PyTorch reference
as IREE's workloads, then timed with the same warm-up, repetitions and minimum time per sample, in
a child process (`python -m suite.peers JOB`) with the run's threads and allocator policy, so a
crashing runtime costs only its row. Rows are ordinary workload rows with ``runtime`` set."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from suite.rows import STATUS_OK, STATUS_WRONG

def peer_module(layer, method: str, seed: int):
    """The method in every runtime's native form: the trained layer, or one transposed convolution."""
    from workloads.algorithms import ALGORITHMS
    from workloads.methods import DEPLOYED, deployed_deconv, trained_layer
    if method in DEPLOYED:
        d = deployed_deconv(layer, method, seed)
        return ALGORITHMS["IREE"].lower(d, layer.batch, layer.h, layer.w).module.eval()
    return trained_layer(layer, method, seed).eval()


def time_callable(run, x, repetitions: int, min_time_s: float, warmup_s: float) -> tuple[list[float], list[int]]:
    """Samples in ms, each the mean of enough calls to last ``min_time_s`` (at least one)."""
    t0 = time.perf_counter()
    calls = 0
    while True:                                            # warm-up, and how many calls fill a sample
        run(x)
        calls += 1
        if time.perf_counter() - t0 >= warmup_s:
            break
    per_call = (time.perf_counter() - t0) / calls
    n = max(1, int(min_time_s / per_call) if per_call > 0 else 1)
    samples, iterations = [], []
    for _ in range(repetitions):
        t = time.perf_counter()
        for _ in range(n):
            run(x)
        samples.append((time.perf_counter() - t) / n * 1e3)
        iterations.append(n)
    return samples, iterations


def measure(peer, module, x, ref, threads, repetitions: int, min_time_s: float, warmup_s: float) -> dict:
    """Build the peer, verify its output against ``ref``, and time it only if it verified."""
    from suite.verify import verify
    out = {"status": "build-failed", "reason": "", "samples_ms": [], "iterations": []}
    try:
        built = peer.build(module, x, threads)
    except Exception as e:                                 # noqa: BLE001 - a runtime refusing is its row's result
        out["reason"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        return out
    out["note"], out["fallback"] = built.note, built.fallback
    try:
        y = built.run(x).detach().numpy()
    except Exception as e:                                 # noqa: BLE001
        out.update(status="run-failed", reason=f"{type(e).__name__}: {str(e)[:300]}")
        return out
    v = verify(y, ref)
    out.update(max_abs_err=v.max_abs_err, tolerance=v.tolerance, output_shape=list(y.shape))
    if not v.ok:
        out.update(status=STATUS_WRONG, reason=v.reason)
        return out
    out["samples_ms"], out["iterations"] = time_callable(built.run, x, repetitions, min_time_s, warmup_s)
    out["status"] = STATUS_OK
    return out


def run_peers(layer, methods: list[str], peers, options, timeout: float) -> list:
    """One WorkloadResult per (method, peer); one child process per peer and layer (its imports and
    the runtime's start-up paid once), so a crashing runtime costs only that peer's rows."""
    import dataclasses
    from suite.runner import WorkloadResult
    from suite.stats import summarize
    from targets.iree_run import child_environ, command_line
    from workloads.methods import DEPLOYED
    results = []
    for peer in peers:
        job = {"peer": peer.name, "layer": dataclasses.asdict(layer), "methods": methods, "seed": options.seed,
               "threads": options.threads, "repetitions": options.repetitions, "min_time": options.min_time_s,
               "warmup": options.warmup_s}
        docs, failure = {}, ""
        with tempfile.TemporaryDirectory() as tmp:
            jp, op = Path(tmp) / "job.json", Path(tmp) / "out.json"
            jp.write_text(json.dumps(job))
            cmd = [sys.executable, "-m", "suite.peers", str(jp), str(op)]
            shown = command_line(cmd, options.runtime_env())
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * len(methods),
                                      env=child_environ(options.runtime_env()))
                if op.exists():
                    docs = json.loads(op.read_text())
                if proc.returncode != 0 or len(docs) < len(methods):
                    tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
                    failure = f"the peer's process died: {tail[:300]}"
            except subprocess.TimeoutExpired:
                failure = f"timed out after {timeout * len(methods):g} s"
        for method in methods:
            res = WorkloadResult(id=f"{layer.id}/{method}@{peer.name}", layer=layer.id, layer_name=layer.name,
                                 method=method, algorithm=None, reference=DEPLOYED.get(method, method))
            res.runtime, res.runtime_version, res.runtime_settings = peer.name, peer.version(), peer.settings
            res.commands["time"] = shown
            doc = docs.get(method)
            if doc is None:
                res.status, res.reason = "run-failed", failure or "no result"
            else:
                res.status, res.reason = doc["status"], doc["reason"]
                res.max_abs_err, res.tolerance = doc.get("max_abs_err"), doc.get("tolerance")
                res.output_shape = doc.get("output_shape")
                res.runtime_note = ("fallback: " if doc.get("fallback") else "") + doc.get("note", "")
                res.samples_ms, res.iterations = doc["samples_ms"], doc["iterations"]
                res.stats_ms = summarize(res.samples_ms) if res.samples_ms else None
            results.append(res)
    return results


def _child(job_path: str, out_path: str) -> int:
    """The child process: each method of the layer built in the peer, verified, timed; results
    written after every method, so a crash keeps what was done."""
    import torch
    from targets.peers import get_peer
    from workloads.layer import LayerConfig
    from workloads.methods import DEPLOYED, make_input, trained_layer
    job = json.loads(Path(job_path).read_text())
    layer = LayerConfig(**job["layer"])
    peer = get_peer(job["peer"])
    x = make_input(layer, job["seed"])
    done = {}
    for method in job["methods"]:
        with torch.no_grad():
            ref = trained_layer(layer, DEPLOYED.get(method, method), job["seed"])(x).numpy()
        done[method] = measure(peer, peer_module(layer, method, job["seed"]), x, ref, job["threads"],
                               job["repetitions"], job["min_time"], job["warmup"])
        Path(out_path).write_text(json.dumps(done, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:3]))
