"""Bundles: everything a device the suite cannot drive needs to verify and time the workloads --
compiled modules, inputs, expected outputs (from PyTorch, computed here), a manifest, and a runner
that needs only IREE's runtime tools -- and the import of its result as an ordinary run record."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import uuid
from importlib import resources
from pathlib import Path

import numpy as np

from suite.build import build_module, compile_flags, compiler_version
from suite.cache import CompileCache, atomic_write
from suite.errors import UserError
from suite.export import to_mlir
from targets.iree_tools import versions
from suite.record import SCHEMA, SCHEMA_VERSION, new_record
from suite.runner import WorkloadResult
from suite.stats import summarize
from suite.verify import tolerance
from targets import Target
from targets.collectors.iree_static import values_from_summary

RESULT_SCHEMA = "upsampling-suite/bundle-result"


def _safe(wid: str) -> str:
    return wid.replace("/", "__")


def make_bundle(workloads, target: Target, device: str, out: Path, cache: CompileCache, seed: int = 0,
                preset: str = "default", on_progress=None) -> dict:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"bundle folder {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"bundle folder {out} exists and is not empty")
    for sub in ("modules", "inputs", "expected"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    entries, failures = [], []
    for w in workloads:
        if on_progress:
            on_progress(w)
        x = w.input(seed)
        ref = w.reference(x, seed).numpy()
        try:
            low = w.lowering(seed)
            mlir, input_type = to_mlir(low, x)
            built = build_module(cache, mlir, input_type, compile_flags(cache, target, preset, low.tuning_spec), 600)
        except Exception as e:                                     # noqa: BLE001 - report, keep bundling
            failures.append(f"{w.id}: {e}")
            continue
        name = _safe(w.id)
        shutil.copyfile(built.vmfb, out / "modules" / f"{name}.vmfb")
        np.save(out / "inputs" / f"{w.layer.id}.npy", x.numpy())
        np.save(out / "expected" / f"{name}.npy", ref)
        static = json.loads(cache.static_path(built.key).read_text())
        entries.append({"id": w.id, "layer": w.layer.id, "layer_name": w.layer.name, "method": w.method,
                        "algorithm": w.algorithm, "reference": w.reference_method,
                        "module": f"modules/{name}.vmfb", "input": f"inputs/{w.layer.id}.npy",
                        "expected": f"expected/{name}.npy", "tolerance": tolerance(ref),
                        "compile_command": built.command, "static": static})
    manifest = {"schema": "upsampling-suite/bundle", "schema_version": 1, "bundle_id": uuid.uuid4().hex[:12],
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "target": target.name, "device": device, "preset": preset, "compile_flags": target.flags(preset),
                "seed": seed, "compiler": compiler_version(), "versions": versions(), "workloads": entries}
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    runner = out / "run_bundle.py"
    runner.write_text(resources.files("suite").joinpath("data/run_bundle.py").read_text())
    runner.chmod(0o755)
    return {"manifest": manifest, "failures": failures}


def import_result(result_path: Path, bundle_dir: Path) -> dict:
    """A device's bundle-result.json + the bundle's manifest -> a run record (schema v2)."""
    from suite.record import strict_json
    try:
        text = Path(result_path).read_text()
        res = strict_json(text)
        manifest = strict_json((Path(bundle_dir) / "manifest.json").read_text())
    except OSError as e:
        raise UserError(f"cannot read {e.filename}: {e.strerror}") from None
    except ValueError as e:
        raise UserError(f"bundle result or manifest is not valid JSON: {e}") from None
    if not isinstance(res, dict) or res.get("schema") != RESULT_SCHEMA:
        raise UserError(f"{result_path} is not a bundle result")
    _check_result(res, manifest, result_path)
    if res.get("bundle") != manifest.get("bundle_id"):
        raise UserError(f"{result_path} comes from bundle {res.get('bundle')}, not from {bundle_dir} "
                        f"({manifest.get('bundle_id')})")
    rec = device_record(manifest, res, res["device"], {
        "imported_from": str(result_path), "import_sha256": hashlib.sha256(text.encode()).hexdigest()})
    for r in res["workloads"]:
        add_device_row(rec, manifest, r)
    rec["complete"] = res.get("complete", True)         # a device's run cut short imports as incomplete
    return rec


def device_record(manifest: dict, about: dict, device: str, settings: dict) -> dict:
    """The record (schema v2) of a bundle's run on a device described by ``about`` (its machine
    fingerprint and runtime version, from ``run_bundle.py --describe``); rows come by add_device_row."""
    rec = new_record(manifest["target"], device, None, {
        **settings, "bundle": manifest["bundle_id"], "seed": manifest["seed"],
        "compile_flags": manifest["compile_flags"], "presets": {manifest["preset"]: []},
        "timer": "iree-benchmark-module real_time on the device"})
    rec["machine"] = about["machine"]
    rec["versions"] = {**manifest["versions"], "iree-base-runtime": about["runtime"] or "unknown",
                       "measured_on": "the device that ran the bundle"}
    rec["target"].update({"runs_here": True, "note": f"measured on {about['machine']['cpu']} via suite bundle"})
    rec["complete"] = False
    assert rec["schema"] == SCHEMA and rec["schema_version"] == SCHEMA_VERSION
    return rec


def add_device_row(rec: dict, manifest: dict, r: dict) -> dict:
    """A device's result row (checked: it is data from elsewhere) as an ordinary run row."""
    import jsonschema
    try:
        jsonschema.validate(r, _ROW_SCHEMA)
    except jsonschema.ValidationError as e:
        raise UserError(f"the device sent an invalid result row: {e.message}") from None
    m = next((w for w in manifest["workloads"] if w["id"] == r["id"]), None)
    if m is None:
        raise UserError(f"the device sent a row for {r['id']!r}, which is not in the bundle")
    row = WorkloadResult(                      # the same row type as a run's own results
        id=r["id"], layer=m["layer"], layer_name=m["layer_name"], method=m["method"], algorithm=m["algorithm"],
        reference=m["reference"], preset=manifest["preset"], status=r["status"], reason=r["reason"],
        tolerance=m["tolerance"], samples_ms=r["samples_ms"], iterations=r["iterations"],
        stats_ms=summarize(r["samples_ms"]) if r["samples_ms"] else None,
        commands={"compile": m["compile_command"]},
        counters=[v.to_json() for v in values_from_summary(m["static"])]).to_json()
    rec["workloads"].append(row)
    return row


_ROW_SCHEMA = {
    "type": "object", "required": ["id", "status", "reason", "samples_ms", "iterations"],
    "properties": {
        "id": {"type": "string"},
        "status": {"enum": ["ok", "wrong", "run-failed", "time-failed"]},
        "reason": {"type": "string"},
        "samples_ms": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}},
        "iterations": {"type": "array", "items": {"type": "integer", "minimum": 1}}}}


_RESULT_SCHEMA = {
    "type": "object", "required": ["schema", "bundle", "machine", "runtime", "device", "workloads"],
    "properties": {
        "device": {"type": "string", "minLength": 1},
        "runtime": {"type": ["string", "null"]},
        "machine": {"type": "object", "required": ["arch", "cpu", "cpus_usable"],
                    "properties": {"arch": {"type": "string"}, "cpu": {"type": "string"},
                                   "cpus_usable": {"type": ["integer", "null"]}}},
        "complete": {"type": "boolean"},
        "workloads": {"type": "array", "items": _ROW_SCHEMA},
    },
}


_MANIFEST_SCHEMA = {
    "type": "object", "required": ["bundle_id", "target", "seed", "compile_flags", "preset", "versions", "workloads"],
    "properties": {"workloads": {"type": "array", "items": {
        "type": "object", "required": ["id", "layer", "method", "reference", "tolerance", "compile_command", "static"],
        "properties": {"static": {"type": "object", "required": ["dispatches"]}}}}},
}


def _check_result(res: dict, manifest: dict, path: Path) -> None:
    """A device's result file is data from elsewhere: every field the record takes is checked."""
    import jsonschema
    try:
        jsonschema.validate(manifest, _MANIFEST_SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(map(str, e.absolute_path)) or "(top)"
        raise UserError(f"the bundle's manifest.json is not a suite bundle manifest at {where}: {e.message}") from None
    try:
        jsonschema.validate(res, _RESULT_SCHEMA)
    except jsonschema.ValidationError as e:
        where = "/".join(map(str, e.absolute_path)) or "(top)"
        raise UserError(f"{path}: not a valid bundle result at {where}: {e.message}") from None
    known = {w["id"] for w in manifest["workloads"]}
    seen = set()
    for r in res["workloads"]:
        if r["id"] not in known:
            raise UserError(f"{path}: workload {r['id']!r} is not in the bundle")
        if r["id"] in seen:
            raise UserError(f"{path}: workload {r['id']!r} appears twice")
        seen.add(r["id"])
        if len(r["samples_ms"]) != len(r["iterations"]):
            raise UserError(f"{path}: workload {r['id']!r} has {len(r['samples_ms'])} samples but "
                            f"{len(r['iterations'])} iteration counts")
        if r["status"] == "ok" and not r["samples_ms"]:
            raise UserError(f"{path}: workload {r['id']!r} is 'ok' without a timed sample")


def already_imported(rec: dict, results_dir: Path) -> Path | None:
    """The stored record made from the very same result file, if there is one."""
    from suite.paths import stored_runs
    digest = rec["settings"].get("import_sha256")
    for path in stored_runs(results_dir):
        try:
            if json.loads(path.read_text()).get("settings", {}).get("import_sha256") == digest:
                return path
        except (OSError, ValueError):
            continue
    return None
