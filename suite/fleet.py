"""A fleet of devices on Dask distributed: ``suite run --cluster ADDRESS``.

Each worker runs on or beside one device and advertises it as the resource ``device:NAME=1``, so a
device runs one benchmark at a time. How a worker starts IREE's runtime tools is set by its
environment (SUITE_IREE_TOOLS, SUITE_LAUNCHER, SUITE_TARGET: see suite/data/run_bundle.py). The
worker's code is that one standard-library file, uploaded to the workers when a run starts, so a
worker needs only Python, ``distributed`` and ``iree-base-runtime``: no torch, no compiler, no suite.

Here, on the submitting side: every device describes itself (fingerprint, IREE target, emulated or
not); the plan's workloads are compiled once per target (through the compile cache) with their
inputs and expected outputs; one job goes to each (workload, device); each result is checked and
saved in that device's own run record as it arrives. A worker that dies loses only its current job:
its nanny restarts it and the scheduler runs the job again (up to Dask's allowed-failures, after
which the job is recorded as failed). A device that no worker advertises any more, for longer than
the grace period, has its remaining jobs recorded as failed; the other devices go on.
"""
from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from suite.errors import UserError

DEVICE_PREFIX = "device:"
WORKER_MODULE = "run_bundle"          # suite/data/run_bundle.py, the device-side runner


@dataclass
class Device:
    """One device of the fleet and its run record."""
    name: str
    about: dict                       # the worker's description of its device (run_bundle.worker_describe)
    record: dict | None = None
    path: Path | None = None
    manifest: dict | None = None
    folder: Path | None = None                     # its target's bundle
    jobs: dict = field(default_factory=dict)       # future -> workload id, while pending
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def resource(self) -> str:
        return DEVICE_PREFIX + self.name


def _connect(address: str, timeout: float):
    from distributed import Client
    spec = {"scheduler_file": address} if address.endswith(".json") else {"address": address}
    if "scheduler_file" in spec and not Path(address).is_file():
        raise UserError(f"--cluster: no scheduler file at {address}")
    try:
        return Client(**spec, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        raise UserError(f"--cluster: cannot reach the scheduler at {address}: {str(e).splitlines()[0][:160]}") \
            from None


def _worker_code(client):
    """The device-side runner, uploaded to every worker (and to workers that join later), and the
    same file imported here under the same name, so that its functions travel by reference."""
    path = Path(str(resources.files("suite").joinpath("data/run_bundle.py")))
    if WORKER_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(WORKER_MODULE, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[WORKER_MODULE] = module
    client.upload_file(str(path), load=True)
    return sys.modules[WORKER_MODULE]


def fleet_devices(client) -> dict[str, int]:
    """Device name -> how many workers advertise it now."""
    out: dict[str, int] = {}
    for w in client.scheduler_info(n_workers=-1)["workers"].values():
        for res in w.get("resources", {}):
            if res.startswith(DEVICE_PREFIX):
                out[res[len(DEVICE_PREFIX):]] = out.get(res[len(DEVICE_PREFIX):], 0) + 1
    return out


def run_on_cluster(plan, address: str, storage, say=lambda text: None, names: list[str] | None = None,
                   grace_s: float = 15.0, timeout_s: float = 10.0,
                   resume: tuple[dict, Path] | None = None) -> list[Device]:
    """Every planned workload on every chosen device of the cluster; one saved record per device.
    ``resume``: an interrupted device record and its path -- that device runs only what it lacks."""
    if resume:
        names = [resume[0]["settings"]["fleet_device"]]
    client = _connect(address, timeout_s)
    try:
        worker = _worker_code(client)
        present = fleet_devices(client)
        if not present:
            raise UserError(f"--cluster {address}: no worker advertises a device (start each worker with "
                            "--resources device:NAME=1)")
        unknown = sorted(set(names or []) - set(present))
        if unknown:
            raise UserError(f"--cluster-devices: {', '.join(unknown)} not in the cluster (it has: "
                            f"{', '.join(sorted(present))})")
        devices = [Device(n, {}) for n in (names or sorted(present))]
        _describe(client, worker, devices, timeout_s + plan.run_timeout)
        for d in devices:
            say(f"device {d.name}: {d.about['machine']['cpu']} ({d.about['machine']['arch']}), "
                f"target {d.about['target']}" + (", emulated" if d.about["emulated"] else ""))
        with tempfile.TemporaryDirectory() as tmp:
            ready = _compile_per_target(plan, devices, Path(tmp), storage, say)
            for d in ready:
                if resume:
                    d.record, d.path = resume
                    d.record["settings"].setdefault("bundles", []).append(d.manifest["bundle_id"])
                else:
                    _start_record(d, plan, address, storage)
            _run_jobs(client, worker, plan, ready, grace_s, say)
        for d in ready:
            from suite.verdict import record_verdict
            d.record["complete"] = True
            d.record["verdict"] = record_verdict(d.record)
            _save(d)
        return ready
    finally:
        client.close()


def _describe(client, worker, devices: list[Device], timeout: float) -> None:
    from distributed import wait
    futures = {client.submit(worker.worker_describe, resources={d.resource: 1}, pure=False): d for d in devices}
    try:
        wait(list(futures), timeout=timeout)
    except TimeoutError:
        pass
    for f, d in futures.items():
        if f.status != "finished":
            f.cancel()
            raise UserError(f"--cluster: device {d.name} did not describe itself within {timeout:g} s "
                            f"({f.status}: {f.exception() if f.status == 'error' else 'no answer'})")
        d.about = f.result()


def _compile_per_target(plan, devices: list[Device], tmp: Path, storage, say) -> list[Device]:
    """One bundle per target, compiled once (and cached) for all devices of that target."""
    from suite.bundle import make_bundle
    from suite.cache import CompileCache
    from suite.selection import check_target
    bundles, ready, workloads = {}, [], plan.workloads()
    for d in devices:
        name = d.about["target"]
        if name not in bundles:
            try:
                target, rt_device = check_target(name, None, plan.threads)
            except UserError as e:
                say(f"[yellow]device {d.name}: its target {name!r} cannot be compiled for here: {e}[/]")
                bundles[name] = None
                continue
            say(f"compiling {len(workloads)} workloads for {name}")
            out = make_bundle(workloads, target, rt_device, tmp / name, CompileCache(storage.cache_dir),
                              plan.seed, plan.presets[0])
            for f in out["failures"]:
                say(f"[yellow]not bundled for {name}[/] {f}")
            bundles[name] = (out["manifest"], tmp / name)
        if bundles[name] is not None:
            d.manifest, d.folder = bundles[name]
            ready.append(d)
    return ready


def _start_record(d: Device, plan, address: str, storage) -> None:
    from suite.bundle import device_record
    from suite.record import default_path
    d.record = device_record(d.manifest, d.about, d.manifest["device"],
                             {"plan": plan.to_json(), "cluster": address, "fleet_device": d.name})
    t = d.record["target"]
    t.update({"runner": f"cluster:{address}", "device_host": d.name, "emulated": d.about["emulated"],
              "device_name": f"{d.name}: {d.about['machine']['cpu']}"})
    if d.about["emulated"]:
        t.update({"emulator": "qemu-user", "note": f"emulated by {' '.join(d.about['launcher'][:1])} on a fleet "
                                                   "worker: timings are not device times"})
    d.path = default_path(d.record, storage.results_dir) if storage.save else None
    if d.path and d.path.exists():                 # two devices in the same second on the same target
        d.path = d.path.with_name(f"{d.path.stem}-{d.name}.json")
    _save(d)


def _save(d: Device) -> None:
    from suite.record import write_record
    if d.path:
        write_record(d.record, d.path)


def _run_jobs(client, worker, plan, devices: list[Device], grace_s: float, say) -> None:
    from distributed import wait
    for d in devices:
        done = {r["id"] for r in d.record["workloads"]}
        for entry in [e for e in d.manifest["workloads"] if e["id"] not in done]:
            files = {k: (d.folder / entry[k]).read_bytes() for k in ("module", "input", "expected")}
            job = {"entry": entry, "files": files, "device": d.manifest["device"],
                   "repetitions": plan.repetitions, "min_time": plan.min_time}
            d.jobs[client.submit(worker.worker_job, job, resources={d.resource: 1}, pure=False)] = entry["id"]
    total = sum(len(d.jobs) for d in devices)
    say(f"{total} jobs on {len(devices)} devices")
    try:
        while any(d.jobs for d in devices):
            pending = [f for d in devices for f in d.jobs]
            try:
                wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:
                pass
            for d in devices:
                for f in [f for f in d.jobs if f.done()]:
                    _take(d, f, d.jobs.pop(f), say)
            _watch(client, devices, grace_s, say)
    except KeyboardInterrupt:
        for d in devices:
            client.cancel(list(d.jobs))
            if d.jobs and d.path:
                say(f"[yellow]{d.name}: interrupted with {len(d.jobs)} jobs to go[/]; finish with: "
                    f"suite run --resume {d.path}")
        raise


def _take(d: Device, f, wid: str, say) -> None:
    """One finished job: its row, or the reason it has none, into the device's record."""
    from suite.bundle import add_device_row
    if f.status == "finished":
        row = f.result()
    else:
        exc = f.exception() if f.status == "error" else None
        why = (f"its worker died while running it, {type(exc).__name__}" if type(exc).__name__ == "KilledWorker"
               else f"{type(exc).__name__}: {exc}" if exc else f.status)
        row = _failed(wid, why)
    add_device_row(d.record, d.manifest, row)
    _save(d)
    say(f"{d.name}: {wid}: {row['status']}" + (f" ({row['reason']})" if row["reason"] else ""))


def _failed(wid: str, why: str) -> dict:
    return {"id": wid, "status": "run-failed", "reason": why[:300], "samples_ms": [], "iterations": []}


def _watch(client, devices: list[Device], grace_s: float, say) -> None:
    """A device no worker advertises for longer than the grace period: its jobs are recorded as failed."""
    from suite.bundle import add_device_row
    present = fleet_devices(client)
    now = time.monotonic()
    for d in devices:
        if present.get(d.name):
            d.last_seen = now
        elif d.jobs and now - d.last_seen > grace_s:
            say(f"[yellow]device {d.name} left the cluster[/]: {len(d.jobs)} jobs recorded as failed")
            client.cancel(list(d.jobs))
            for f, wid in list(d.jobs.items()):
                add_device_row(d.record, d.manifest, _failed(wid, f"device {d.name} left the cluster (no worker "
                                                                   f"advertised it for {grace_s:g} s)"))
            d.jobs.clear()
            _save(d)
