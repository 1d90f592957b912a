"""Turning what a user named into things the suite runs: layers, target and device, collectors,
the model's profile. Plain functions over plain values: every command, the run library, tests and
bench/ call them; none of them knows about argparse."""
from __future__ import annotations

from pathlib import Path

from suite.errors import UserError


def csv_list(value: str | list[str] | None) -> list[str] | None:
    """'a,b' -> [a, b]; a repeated option (a list of such strings) adds up rather than the last
    winning, and a name given twice counts once (it would otherwise run twice)."""
    values = [value] if isinstance(value, str) else value or []
    out = list(dict.fromkeys(v.strip() for text in values for v in text.split(",") if v.strip()))
    return out or None


def resolve_layers(catalogues: list[str], specs: list[str], layouts: list[str] | None = None) -> list:
    """The layers of the named catalogues and inline/named layers (the default catalogue if none),
    in each of ``layouts``, without repeats."""
    from workloads.catalogue import DEFAULT, catalogue, find_layer
    from workloads.layer import LAYOUTS, parse_layer
    layers = []
    for name in (n for value in catalogues for n in csv_list(value) or []):
        layers.extend(catalogue(name))
    for spec in specs:
        if "=" in spec:
            layers.append(parse_layer(spec))
        else:
            layer = find_layer(spec)
            if layer is None:
                raise UserError(f"--layer: {spec!r} is neither key=value pairs nor a catalogue layer name "
                                "(see `suite list`)")
            layers.append(layer)
    if not catalogues and not specs:
        layers = catalogue(DEFAULT)
    if layouts:
        for layout in layouts:
            if layout not in LAYOUTS:
                raise UserError(f"--layout: unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
        layers = [layer.with_layout(layout) for layer in layers for layout in layouts]
    seen, unique = set(), []
    for layer in layers:
        if layer.id not in seen:
            seen.add(layer.id)
            unique.append(layer)
    return unique


def check_target(name: str, device: str | None, threads: int | None):
    """The target and device asked for, or a UserError saying why they cannot be used here."""
    from targets import get_target
    target = get_target(name)
    device = device or target.default_device
    if device not in target.devices:
        raise UserError(f"target {target.name} has no device {device!r} (devices: {', '.join(target.devices)})")
    if threads is not None and threads < 1:
        raise UserError("--threads must be at least 1")
    if threads is not None and device != "local-task":
        raise UserError(f"--threads sets local-task's thread pool; device {device!r} does not take it")
    return target, device


def run_threads(target, device: str, threads: int | None, runner: str = "local") -> int | None:
    """The worker threads a run on this host gives IREE's local-task: those asked for, else one per
    CPU this process may use. Named, IREE leaves its workers unpinned (``--task_topology_group_count``);
    left to itself it pins one to each core. On this 2-vCPU VM the pinned workers split a run's rounds
    far more often -- the sweep timed alone, three runs each: 10-19 of 57 rows more than 1.4x apart
    between rounds pinned, 2-6 unpinned, median IQR 11-17% against 8-11%, at the same speed -- since a
    pinned worker must wait for its own CPU while the harness, a peer or the kernel holds it. None
    (IREE's own choice) where the device runs elsewhere: another CPU, an emulator, a remote device."""
    if threads is not None or device != "local-task" or runner != "local" or not target.for_this_cpu:
        return threads
    from suite.record import usable_cpus
    return usable_cpus()


def resolve_collectors(spec: str, target=None) -> tuple[list[str], dict]:
    """Collectors to run on ``target``, and for every registered one whether it is used and why (not)."""
    from targets.collectors import COLLECTORS, get_collector
    wanted = [] if spec == "none" else None if spec == "auto" else csv_list(spec)
    for name in wanted or []:
        get_collector(name)                                # unknown name: a clear error now
    use, notes = [], {}
    for name, c in COLLECTORS.items():
        a = c.availability()
        applies = target is None or name in target.collectors
        asked = name in wanted if wanted is not None else (a.usable and c.cost != "expensive" and applies)
        if asked and a.usable and applies:
            use.append(name)
        reason = (f"does not apply to target {target.name}" if not applies else a.reason if not a.usable
                  else "" if asked else f"not requested (cost: {c.cost})")
        notes[name] = {"source": c.source, "available": a.usable, "used": asked and a.usable and applies,
                       "reason": reason}
    return use, notes


def resolve_profile(name: str, target: str, device: str | None, threads: int | None, profiles_dir: Path,
                    cache_dir: Path | None, on_calibrate=None, bandwidth_now: bool = False):
    """A built-in device profile by name, or 'calibrated': this machine's, measured once and stored
    (``bandwidth_now``: with its DRAM bandwidth measured again now, as a run does)."""
    from suite.profiles import builtin_profile
    check_profile_name(name)
    if name != "calibrated":
        return builtin_profile(name)
    from suite.cache import CompileCache
    from suite.calibrate import load_or_calibrate, with_bandwidth_now
    t, device = check_target(target, device, threads)
    say = (lambda: on_calibrate(t.name, device)) if on_calibrate else None
    cache = CompileCache(cache_dir)
    prof, path, fresh = load_or_calibrate(profiles_dir, t, device, threads, cache, on_calibrate=say)
    return with_bandwidth_now(prof, path, t, device, threads, cache) if bandwidth_now and not fresh else prof


def check_profile_name(name: str) -> None:
    from suite.profiles import builtin_profiles
    known = ["calibrated", *builtin_profiles(), "none"]
    if name not in known:
        raise UserError(f"--profile: unknown profile {name!r} (known: {', '.join(known)})")
