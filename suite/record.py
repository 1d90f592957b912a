"""RunRecord: one run of the suite as versioned JSON -- machine, versions, options, every sample.

Written atomically (temp file + rename in the same folder), to a unique name, so a crash never
leaves half a record and two runs at once never clobber each other.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
import platform
import subprocess
import uuid
from pathlib import Path

from suite.cache import atomic_write
from suite.errors import UserError
from targets.iree_tools import versions

SCHEMA = "upsampling-suite/run"
SCHEMA_VERSION = 2


def _migrate_v1(doc: dict) -> dict:
    """v1 (before presets and counters): every workload ran with the default preset, counted nothing."""
    for w in doc.get("workloads", []):
        w.setdefault("preset", "default")
        w.setdefault("counters", [])
        w.setdefault("counter_errors", {})
    doc["schema_version"] = 2
    return doc


MIGRATIONS = {1: _migrate_v1}          # version -> function returning the record one version newer


@functools.cache
def _validator():
    import jsonschema
    from importlib import resources
    schema = json.loads(resources.files("suite").joinpath("data/run.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate(doc: dict, where: str = "run record") -> None:
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        path = "/".join(map(str, e.absolute_path)) or "(top)"
        raise UserError(f"{where} does not match the run-record schema at {path}: {e.message}")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), else those online."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_fingerprint() -> dict:
    cpu, flags = "", []
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not cpu:
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                flags = sorted(have & {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16",
                                       "avx512_fp16", "amx_tile", "neon", "asimd", "sve"})
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        **accelerators(),
        "hostname": platform.node(),
        "arch": platform.machine(),
        "cpu": cpu or platform.processor(),
        "cpu_flags": flags,
        "cpus_online": os.cpu_count(),
        "cpus_usable": usable_cpus(),
        "memory_bytes": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def accelerators() -> dict:
    """GPU name and driver (nvidia-smi) and the Vulkan device (vulkaninfo), where there are any."""
    from targets.probe import tool_output
    from targets.vulkan import device_info
    gpu = tool_output("nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader").strip()
    name, is_cpu = device_info()
    return {"gpu": gpu.splitlines()[0] if gpu else None,
            "vulkan_device": (name + (" (CPU emulation)" if is_cpu else "")) if name else None}


def git_state() -> dict:
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty if commit else None}


def new_record(target: str, device: str, threads: int | None, settings: dict) -> dict:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "id": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6],
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": False,
        "machine": machine_fingerprint(),
        "versions": {**versions(), "suite_git": git_state()},
        "target": {"name": target, "device": device, "threads": threads},
        "settings": settings,
        "workloads": [],
    }


def default_path(record: dict, results_dir: Path) -> Path:
    t = record["target"]
    return Path(results_dir) / f"{record['id']}-{t['name']}-{t['device']}.json"


def _reject_constant(name: str):
    raise ValueError(f"non-finite number {name} (records are strict JSON)")


def strict_json(text: str):
    """JSON that may not hold NaN or Infinity, which Python's json accepts by default."""
    return json.loads(text, parse_constant=_reject_constant)


@functools.cache
def _row_validator():
    import jsonschema
    return jsonschema.Draft202012Validator(_validator().schema["properties"]["workloads"]["items"])


def write_record(record: dict, path: Path, new_rows: list[dict] | None = None) -> Path:
    """The whole record, validated, written atomically. ``new_rows``: a checkpoint during a run,
    whose earlier rows were each checked as they came: only these rows are validated and the JSON
    is not indented (checking and pretty-printing a 300-row record after every row cost a default
    run 100 s). The run's last write checks the whole record."""
    if new_rows is None:
        validate(record, "the run record about to be written")
    else:
        for row in new_rows:
            errors = list(_row_validator().iter_errors(row))
            if errors:
                raise UserError(f"row {row.get('id')} does not match the run-record schema: {errors[0].message}")
    try:
        text = json.dumps(record, indent=None if new_rows is not None else 1, allow_nan=False) + "\n"
    except ValueError as e:
        raise UserError(f"the run record for {path} holds a non-finite number ({e}); not written") from None
    try:
        atomic_write(Path(path), text)
    except OSError as e:
        raise UserError(f"cannot write the run record to {path}: {e.strerror or e}") from None
    return Path(path)


def load_record(path: Path) -> dict:
    try:
        doc = strict_json(Path(path).read_text())
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise UserError(f"{path} is not valid JSON (truncated or corrupt?): {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise UserError(f"{path} is not an upsampling-suite run record")
    version = doc.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise UserError(f"{path} has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise UserError(f"{path} has schema version {version}, newer than this suite understands "
                        f"({SCHEMA_VERSION}); upgrade upsampling-suite")
    while doc["schema_version"] < SCHEMA_VERSION:
        doc = MIGRATIONS[doc["schema_version"]](doc)
    validate(doc, str(path))
    return doc
