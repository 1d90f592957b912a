"""Peer runtimes in a run: each (layer or network, method, peer) is verified against the same
reference as IREE's workloads, then timed with the same warm-up, repetitions and minimum time per
sample, in a child process (`python -m suite.peers SETTINGS`) with the run's threads and allocator
policy, so a crashing runtime costs only its rows. The child stays up for the run, builds one
layer after another, and gives samples on request, so that a run can alternate it with IREE
(suite.rounds). Rows are ordinary workload rows with ``runtime`` set."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from suite.rows import STATUS_OK, STATUS_REFUSED, STATUS_WRONG


@dataclass(frozen=True)
class Subject:
    """What a peer runs: one layer (each method), or a whole network or ONNX model, as trained and
    as deployed (its upsampling in the runtime's own transposed convolution)."""
    id: str
    name: str
    job: dict                         # how the child process rebuilds it (JSON)

    @property
    def whole(self) -> bool:
        return self.job["kind"] != "layer"


def layer_subject(layer) -> Subject:
    import dataclasses
    return Subject(layer.id, layer.name, {"kind": "layer", "layer": dataclasses.asdict(layer)})


def network_subject(w) -> Subject:
    """The subject of a network workload (workloads.networks) or an ONNX model's (workloads.onnx_models)."""
    from workloads.onnx_models import OnnxWorkload
    if isinstance(w, OnnxWorkload):
        return Subject(w.layer.id, w.layer.name, {"kind": "onnx", "name": w.name, "path": w.path,
                                                  "shape": list(w.shape), "image": w.image})
    return Subject(w.layer.id, w.layer.name, {"kind": "network", "network": w.network})


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


def build_key(peer, job: dict, method: str, seed: int) -> str:
    """Everything a peer's build of one method depends on: the peer and its version, torch's, the
    subject, method and seed, and the code that makes the module (workloads) and builds it."""
    import hashlib
    import importlib.metadata
    from suite.runner import workloads_digest
    parts = (peer.name, peer.version(), importlib.metadata.version("torch"), json.dumps(job, sort_keys=True),
             method, str(seed), workloads_digest(),
             (Path(__file__).parents[1] / "targets" / "peers" / f"{peer.module}.py").read_text())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def build(peer, module, x, threads, cache=None, key: str | None = None):
    """The peer's runtime for ``module`` (a torch module, or an ONNX model); a peer whose build is
    an export (ExecuTorch's program) takes it from ``cache`` (suite.cache.CompileCache) under ``key``
    when stored. (Built, whether it came from the cache.)"""
    if type(module).__name__ == "ModelProto":
        return peer.build_onnx(module, x, threads), False
    if cache is None or key is None or not peer.exports:
        return peer.build(module, x, threads), False
    stored = cache.load_blob("peers", key)
    if stored is None:
        stored = peer.export(module, x)
        cache.store_blob("peers", key, *stored)
        return peer.load(*stored, threads), False
    return peer.load(*stored, threads), True


def build_and_verify(peer, module, x, ref, threads, step: float = 0.0, cache=None,
                     key: str | None = None) -> tuple[dict, object]:
    """Build the peer (from a torch module, or an ONNX model; see ``build``) and verify its output
    against ``ref`` (``step``: a quantized model's output step, see suite.verify): (the row so far,
    the built runtime -- None unless it verified and may be timed)."""
    from suite.verify import verify
    from targets.peers import Refused
    out = {"status": "build-failed", "reason": "", "samples_ms": [], "iterations": []}
    try:
        built, out["cached"] = build(peer, module, x, threads, cache, key)
    except Refused as e:
        out.update(status=STATUS_REFUSED, reason=str(e))
        return out, None
    except Exception as e:                                 # noqa: BLE001 - a runtime refusing is its row's result
        out["reason"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        return out, None
    out["note"], out["fallback"] = built.note, built.fallback
    try:
        y = built.run(x).detach().numpy()
    except Exception as e:                                 # noqa: BLE001
        out.update(status="run-failed", reason=f"{type(e).__name__}: {str(e)[:300]}")
        return out, None
    v = verify(y, ref, step)
    out.update(max_abs_err=v.max_abs_err, tolerance=v.tolerance, output_shape=list(y.shape))
    if not v.ok:
        out.update(status=STATUS_WRONG, reason=v.reason)
        return out, None
    out["status"] = STATUS_OK
    return out, built


def measure(peer, module, x, ref, threads, repetitions: int, min_time_s: float, warmup_s: float) -> dict:
    """Build the peer, verify its output against ``ref``, and time it only if it verified."""
    out, built = build_and_verify(peer, module, x, ref, threads)
    if built is not None:
        out["samples_ms"], out["iterations"] = time_callable(built.run, x, repetitions, min_time_s, warmup_s)
    return out


class PeerProcess:
    """One peer's child process (``python -m suite.peers SETTINGS``), kept for the whole run: it
    imports torch and the runtime once (ExecuTorch alone takes seconds to import), then builds one
    subject after another on request. A process that dies or times out is killed and replaced by a
    fresh one for the next subject, so a crash still costs only the rows it was working on."""

    def __init__(self, peer, options, cache_dir: Path | None = None):
        from targets.iree_run import child_environ, command_line
        self.peer = peer
        self.tmp = tempfile.TemporaryDirectory()
        settings = {"peer": peer.name, "seed": options.seed, "threads": options.threads,
                    "min_time": options.min_time_s, "warmup": options.warmup_s, "sched": options.sched,
                    "cache_dir": str(cache_dir) if cache_dir else None}
        sp = Path(self.tmp.name) / "settings.json"
        sp.write_text(json.dumps(settings))
        cmd = [sys.executable, "-m", "suite.peers", str(sp)]
        self.command = command_line(cmd, options.runtime_env())
        self.failure = ""
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(Path(self.tmp.name) / "stderr", "w"), text=True,
                                     env=child_environ(options.runtime_env()))
        import queue
        import threading
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()      # replies are awaited with a timeout

    @property
    def alive(self) -> bool:
        return not self.failure and self.proc.poll() is None

    def send(self, doc: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(doc) + "\n")
            self.proc.stdin.flush()
        except OSError:                                    # its end of the pipe is gone: so is the process
            pass

    def reply(self, timeout: float):
        """The child's next answer (a `REPLY {json}` line; anything else it prints is skipped), or
        None when it died or timed out (``failure`` says which)."""
        import queue
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.fail(f"timed out after {timeout:g} s")
                return None
            if line is None:                               # end of its output: the process is gone
                self.proc.wait()
                err = (Path(self.tmp.name) / "stderr").read_text().strip().splitlines()
                self.fail(f"the peer's process died: {(err or [f'exit code {self.proc.returncode}'])[-1][:300]}")
                return None
            if line.startswith("REPLY "):
                return json.loads(line[6:])

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def fail(self, why: str) -> None:
        self.failure = self.failure or why
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def end(self) -> None:
        """End of input: the child exits (``wait`` then reaps it)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def wait(self) -> None:
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


class PeerPool:
    """The run's peer processes, one per peer, started when first needed (after that layer's tuning,
    so that their start-up never overlaps a timed race) and ended together."""

    def __init__(self, options, cache_dir: Path | None = None):
        """``cache_dir``: where the peers keep the programs they export (suite.cache; None: nowhere)."""
        self.options, self.cache_dir = options, cache_dir
        self.processes: dict[str, PeerProcess] = {}

    def get(self, peer) -> PeerProcess:
        p = self.processes.get(peer.name)
        if p is None or not p.alive:
            if p is not None:
                p.end()
                p.wait()
            p = self.processes[peer.name] = PeerProcess(peer, self.options, self.cache_dir)
        return p

    def close(self) -> None:
        for p in self.processes.values():                  # all told first: they exit side by side
            p.end()
        for p in self.processes.values():
            p.wait()
        self.processes.clear()


class PeerSession:
    """One peer on one layer, in the peer's process of the run (PeerProcess): every method is built
    and verified when it starts; then samples are asked for a few at a time, so that a run can time
    IREE and the peers in alternating rounds. Making a session only asks, so that a layer's peers
    build side by side; ``wait`` collects each one's rows."""

    def __init__(self, peer, subject: Subject, methods: list[str], process: PeerProcess, timeout: float):
        self.peer, self.subject, self.methods, self.timeout, self.process = peer, subject, methods, timeout, process
        self.command = process.command
        self.rows: dict[str, dict] = {}
        process.send({"subject": subject.job, "methods": methods})

    @property
    def failure(self) -> str:
        return self.process.failure

    def wait(self) -> "PeerSession":
        self.rows = self.process.reply(self.timeout * max(1, len(self.methods))) or {}
        return self

    def ready(self, method: str) -> bool:
        return not self.failure and self.rows.get(method, {}).get("status") == STATUS_OK

    def sample(self, method: str, repetitions: int) -> tuple[list[float], list[int]]:
        """``repetitions`` more samples of a verified method; RuntimeError if the runtime is gone."""
        if self.failure:
            raise RuntimeError(self.failure)
        self.process.send({"method": method, "repetitions": repetitions})
        doc = self.process.reply(self.timeout)
        if doc is None:
            raise RuntimeError(self.failure)
        return doc["samples_ms"], doc["iterations"]

    def result(self, method: str, samples: list[float], iterations: list[int], failed: str = "",
               rounds: list[int] | None = None):
        """The method's row, as an ordinary WorkloadResult with ``runtime`` set."""
        from suite.runner import WorkloadResult
        from workloads.methods import DEPLOYED
        sub = self.subject
        res = WorkloadResult(id=f"{sub.id}/{method}@{self.peer.name}", layer=sub.id, layer_name=sub.name,
                             method=method, algorithm=None,
                             reference="trained" if sub.whole else DEPLOYED.get(method, method))
        res.runtime, res.runtime_version = self.peer.name, self.peer.version()
        res.runtime_settings = self.peer.settings
        res.commands["time"] = self.command
        doc = self.rows.get(method)
        if doc is None:
            res.status, res.reason = "run-failed", self.failure or "no result"
            return res
        res.status, res.reason = doc["status"], doc["reason"]
        res.max_abs_err, res.tolerance = doc.get("max_abs_err"), doc.get("tolerance")
        res.output_shape = doc.get("output_shape")
        res.runtime_note = ("fallback: " if doc.get("fallback") else "") + doc.get("note", "")
        res.compile_cached = doc.get("cached")                # the program came from the cache
        if failed:
            res.status, res.reason = "time-failed", failed
        elif res.status == STATUS_OK:
            res.take_samples(samples, iterations, rounds)
        return res


def _forms(job: dict) -> tuple[object, dict]:
    """The child's input and, per method, (module or ONNX model, reference output, output step)."""
    import torch
    seed, sub, methods = job["seed"], job["subject"], job["methods"]
    forms = {}
    if sub["kind"] == "layer":
        from workloads.layer import LayerConfig
        from workloads.methods import DEPLOYED, make_input, trained_layer
        layer = LayerConfig(**sub["layer"])
        x = make_input(layer, seed)
        for m in methods:
            with torch.no_grad():
                ref = trained_layer(layer, DEPLOYED.get(m, m), seed)(x).numpy()
            forms[m] = (peer_module(layer, m, seed), ref, 0.0)
    elif sub["kind"] == "network":
        from workloads.deploy import deploy
        from workloads.networks import build_network
        net, x = build_network(sub["network"], seed)
        with torch.no_grad():
            ref = net(x).numpy()
        for m in methods:                                  # deployed: the runtime's own transposed conv
            forms[m] = (net.eval() if m == "trained" else deploy(net, x, "IREE").module.eval(), ref, 0.0)
    else:
        from workloads.onnx_models import OnnxWorkload
        trained = OnnxWorkload(sub["name"], sub["path"], tuple(sub["shape"]), "trained", None, sub["image"])
        x = trained.input(seed)
        ref, step = trained.reference(x, seed).numpy(), trained.output_step
        for m in methods:
            w = trained if m == "trained" else OnnxWorkload(sub["name"], sub["path"], tuple(sub["shape"]),
                                                            "deployed", "IREE", sub["image"])
            forms[m] = (w.model(), ref, step)
    return x, forms


def _child(settings_path: str) -> int:
    """The child process. Per request line on stdin: a subject (each of its methods built in the
    peer and verified, one `REPLY` with every method's row), or that many samples of one method of
    the current subject."""
    from suite.cache import CompileCache
    from suite.sched import this_process
    from targets.peers import get_peer
    settings = json.loads(Path(settings_path).read_text())
    peer = get_peer(settings["peer"])
    cache = CompileCache(Path(settings["cache_dir"])) if settings.get("cache_dir") and peer.exports else None
    x, built = None, {}
    for line in sys.stdin:
        ask = json.loads(line)
        if "subject" in ask:
            built.clear()                                  # the last subject's runtimes go first
            x, forms = _forms({**settings, **ask})
            rows = {}
            for method, (module, ref, step) in forms.items():
                key = build_key(peer, ask["subject"], method, settings["seed"]) if cache else None
                rows[method], built[method] = build_and_verify(peer, module, x, ref, settings["threads"], step,
                                                               cache, key)
            print("REPLY " + json.dumps(rows, allow_nan=False), flush=True)
            continue
        with this_process(settings.get("sched", "normal")):           # as IREE's timed processes run
            samples, iterations = time_callable(built[ask["method"]].run, x, ask["repetitions"],
                                                settings["min_time"], settings["warmup"])
        print("REPLY " + json.dumps({"samples_ms": samples, "iterations": iterations}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
