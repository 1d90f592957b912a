"""suite run: lower, compile, verify and time workloads on one target; store the run record."""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import threading
import sys
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from suite.cache import CompileCache
from suite.errors import UserError
from suite.malloc import POLICIES, malloc_env
from suite.model_check import agreement, entry_from_counts, model_entry
from suite.rows import best_per_workload
from suite.commands.show_cmd import find_run
from suite.record import default_path, load_record, new_record, write_record
from suite.report import make_console, print_run
from suite.runner import Runner, RunOptions
from targets import get_target
from workloads.catalogue import DEFAULT, catalogue, find_layer
from workloads.layer import LAYOUTS, LayerConfig, parse_layer
from workloads.networks import NetworkWorkload, network_model_counts, network_workloads
from workloads.workload import expand

MIN_REPETITIONS = 9


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="compile, verify and time workloads",
                       description="Lower every workload through IREE, verify it against PyTorch, time it.")
    sel = p.add_argument_group("what to run")
    sel.add_argument("-c", "--catalogue", action="append", default=[], metavar="NAME",
                     help=f"a layer catalogue, or a comma-separated list (repeatable; default: {DEFAULT} unless --layer "
                          "is given)")
    sel.add_argument("-l", "--layer", action="append", default=[], metavar="SPEC",
                     help="a layer, inline (cin=7,cout=5,h=13,w=17,k=5,r=3[,batch=,pad=,bias=,layout=]) or by name")
    sel.add_argument("--layout", metavar="LIST", action="append",
                     help="tensor layout of every layer's input and output: nchw, nhwc, or nchw,nhwc to run both "
                          "(default: each layer's own, nchw unless given inline); nhwc pays off with the "
                          "channels-last preset, where IREE's convs run NHWC with no transposes left; "
                          "nhwc-blocked also pads and splits the conv for llvm-cpu's vectors and sets "
                          "its tiles with a tuning spec (C-SP, C-NN, TDCF)")
    sel.add_argument("-n", "--network", action="append", default=[], metavar="NAME",
                     help="a whole network, as trained and as deployed with each algorithm (see `suite list`)")
    sel.add_argument("-m", "--methods", action="append", help="comma-separated methods, repeatable (default: all)")
    sel.add_argument("-a", "--algorithms", action="append",
                     help="comma-separated deconvolution algorithms, repeatable (default: all)")
    how = p.add_argument_group("where and how")
    how.add_argument("-t", "--target", default="llvm-cpu", help="IREE target (see `suite targets`)")
    how.add_argument("--preset", action="append",
                     help="compilation strategy (presets combine with +), a comma-separated list to sweep (or the "
                          "option repeated), or 'all' (see `suite targets`); each workload runs with each, and the "
                          "table shows its fastest (default: default)")
    how.add_argument("-d", "--device", help="runtime device, e.g. local-task (threads) or local-sync (one thread)")
    how.add_argument("--threads", type=int, help="worker threads for local-task")
    how.add_argument("--malloc", choices=tuple(POLICIES), default="system",
                     help="what the timed process's C allocator does with freed memory: 'system' as it comes "
                          "(large buffers mmapped per call, so page faults are timed too), 'retain' kept in the "
                          "process, the steady state of a deployed app (glibc only; default: system)")
    how.add_argument("--repetitions", type=int, default=10, help="timed samples per workload (>= 9)")
    how.add_argument("--min-time", type=float, default=0.05, metavar="S", help="minimum seconds per sample")
    how.add_argument("--seed", type=int, default=0, help="seed for weights and inputs")
    how.add_argument("--verify-only", action="store_true", help="compile and verify, but do not time")
    how.add_argument("-p", "--profile", default="calibrated",
                     help="device profile for the model beside each measurement (default: calibrated on this "
                          "machine, measured once and stored in --profiles-dir); 'none' to skip")
    how.add_argument("--accounting", choices=("paper", "full"), default="full",
                     help="which traffic the model charges (default: full)")
    how.add_argument("--profiles-dir", type=Path, default=Path("results/profiles"),
                     help="where calibrated profiles are stored (default: results/profiles)")
    how.add_argument("--counters", default="auto",
                     help="comma-separated counter collectors (see `suite targets`), 'auto' for every available "
                          "one that costs no simulation, or 'none'")
    how.add_argument("--compile-timeout", type=float, default=600.0, metavar="S")
    how.add_argument("--run-timeout", type=float, default=600.0, metavar="S")
    out = p.add_argument_group("where results go")
    out.add_argument("--json", type=Path, metavar="PATH", help="also write the run record to PATH")
    out.add_argument("--results-dir", type=Path, default=Path("results/runs"),
                     help="where run records are stored (default: results/runs)")
    out.add_argument("--no-save", action="store_true", help="do not store the run record in --results-dir")
    out.add_argument("--cache-dir", type=Path, help="compiled-module cache (default: ~/.cache/upsampling-suite)")
    out.add_argument("--no-cache", action="store_true", help="always recompile")
    out.add_argument("--resume", metavar="RUN", help="finish an interrupted run (a record path, id or 'latest'); "
                                                     "its own settings are used")
    p.set_defaults(func=main)


def resolve_layers(catalogues: list[str], specs: list[str], layouts: list[str] | None = None) -> list[LayerConfig]:
    layers: list[LayerConfig] = []
    for name in (n for value in catalogues for n in _csv(value) or []):
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


def _csv(value: str | list[str] | None) -> list[str] | None:
    """'a,b' -> [a, b]; a repeated option (a list of such strings) adds up rather than the last winning."""
    values = [value] if isinstance(value, str) else value or []
    out = [v.strip() for text in values for v in text.split(",") if v.strip()]
    return out or None


def check_target(name: str, device: str | None, threads: int | None):
    """The target and device asked for, or a UserError saying why they cannot be used here."""
    target = get_target(name)
    device = device or target.default_device
    if device not in target.devices:
        raise UserError(f"target {target.name} has no device {device!r} (devices: {', '.join(target.devices)})")
    if threads is not None and threads < 1:
        raise UserError("--threads must be at least 1")
    return target, device


def plan_from_args(args) -> dict:
    """Everything that defines a run, resolved and validated, as plain JSON (stored in the record,
    so that `--resume` can finish it later)."""
    target, device = check_target(args.target, args.device, args.threads)
    if args.repetitions < MIN_REPETITIONS:
        raise UserError(f"--repetitions must be at least {MIN_REPETITIONS} for a median and IQR worth reporting")
    if args.min_time <= 0:
        raise UserError("--min-time must be positive")
    if args.compile_timeout <= 0 or args.run_timeout <= 0:
        raise UserError("--compile-timeout and --run-timeout must be positive")
    asked = _csv(args.preset) or ["default"]
    presets = list(target.presets) if "all" in asked else list(dict.fromkeys(asked))
    for p in presets:
        target.flags(p)                                   # unknown preset: a clear error now, not per workload
    resolve_collectors(args.counters)
    layers = (resolve_layers(args.catalogue, args.layer, _csv(args.layout))
              if (args.catalogue or args.layer or not args.network) else [])
    methods, algorithms = _csv(args.methods), _csv(args.algorithms)
    expand(layers, methods, algorithms)                   # unknown method / algorithm: a clear error now
    network_workloads(args.network, algorithms)
    malloc_env(args.malloc)                               # retain without glibc: a clear error now
    return {"target": target.name, "device": device, "threads": args.threads, "seed": args.seed,
            "malloc": args.malloc,
            "repetitions": args.repetitions, "min_time": args.min_time, "verify_only": args.verify_only,
            "presets": presets, "counters": args.counters, "profile": args.profile, "accounting": args.accounting,
            "compile_timeout": args.compile_timeout, "run_timeout": args.run_timeout,
            "layers": [dataclasses.asdict(lay) for lay in layers], "methods": methods, "algorithms": algorithms,
            "networks": args.network}


def main(args) -> int:
    console = make_console(160)
    if args.resume:
        path = find_run(args.resume, args.results_dir)
        record = load_record(path)
        if record.get("complete"):
            raise UserError(f"{path} is complete; nothing to resume")
        plan = record["settings"].get("plan")
        if not plan:
            raise UserError(f"{path} was written by a suite that cannot resume it")
        return execute(plan, args, console, record, path)
    plan = plan_from_args(args)
    _check_outputs(args)
    return execute(plan, args, console)


def execute(plan: dict, args, console, record: dict | None = None, path: Path | None = None) -> int:
    target, device = check_target(plan["target"], plan["device"], plan["threads"])
    layers = [LayerConfig(**d) for d in plan["layers"]]
    layers_by_id = {lay.id: lay for lay in layers}
    collectors, collector_notes = resolve_collectors(plan["counters"], target)
    avail = target.availability()
    if not avail.usable and not avail.compiles:
        raise UserError(f"target {target.name} is not usable on this machine: {avail.reason}")
    compile_only = "" if avail.usable else avail.reason
    if compile_only:
        console.print(f"[yellow]{target.name}: {compile_only}[/]; compiling (and counting statically) only")
    cache = CompileCache(args.cache_dir, enabled=not args.no_cache)
    profile = None
    if plan["profile"] != "none" and not plan["verify_only"] and not compile_only:
        from suite.commands.model_cmd import resolve_profile
        pargs = argparse.Namespace(target=target.name, device=device, threads=plan["threads"],
                                   profiles_dir=args.profiles_dir, cache_dir=args.cache_dir)
        profile = resolve_profile(plan["profile"], pargs, console)
    options = RunOptions(target=target, device=device, threads=plan["threads"], seed=plan["seed"],
                         repetitions=plan["repetitions"], min_time_s=plan["min_time"],
                         compile_timeout_s=plan["compile_timeout"], run_timeout_s=plan["run_timeout"],
                         verify_only=plan["verify_only"], presets=tuple(plan["presets"]),
                         collectors=tuple(collectors), compile_only=compile_only,
                         malloc=plan.get("malloc", "system"))
    if record is None:
        settings = {"seed": plan["seed"], "repetitions": plan["repetitions"], "min_time_s": plan["min_time"],
                    "verify_only": plan["verify_only"], "layers": [lay.id for lay in layers],
                    "compile_flags": list(target.compile_flags), "runtime_flags": options.runtime_flags(),
                    "malloc": options.malloc, "runtime_env": options.runtime_env(),
                    "presets": {p: list(target.preset_flags(p)) for p in plan["presets"]},
                    "timer": "iree-benchmark-module real_time (mean per call within each repetition)",
                    "plan": plan}
        record = new_record(target.name, device, plan["threads"], settings)
        record["target"].update({"device_name": avail.device_name, "emulated": avail.emulated,
                                 "runs_here": avail.usable, "note": avail.reason, "compile_flags": target.flags()})
        record["counters"] = collector_notes
        if profile:
            record["model"] = {"profile": profile_summary(profile), "accounting": plan["accounting"]}
        if not args.no_save:
            path = default_path(record, args.results_dir)
        elif args.json:
            path = args.json
    for name, note in collector_notes.items():
        if not note["used"] and (plan["counters"] not in ("auto", "none") or not note["available"]) \
                and "does not apply" not in note["reason"]:
            console.print(f"[yellow]counters: {name} not used[/]: {note['reason']}")
    done = {(r["id"], r.get("preset", "default")) for r in record["workloads"]}
    planned = expand(layers, plan["methods"], plan["algorithms"]) + network_workloads(plan.get("networks", []),
                                                                                      plan["algorithms"])
    workloads = [w for w in planned if any((w.id, p) not in done for p in plan["presets"])]
    nets = {w.id: w for w in planned if isinstance(w, NetworkWorkload)}
    if done:
        console.print(f"resuming {path}: {len(done)} results kept, {len(workloads)} workloads to run")
    runner = Runner(options, cache)
    interrupted = False
    # Ctrl-C and SIGTERM stop the run and keep what is done. The flag makes the stop stick even if
    # a library we are inside (torch export, the MLIR bindings) swallows the KeyboardInterrupt:
    # every stage boundary checks it again.
    stop = threading.Event()

    def _interrupt(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("starting", total=len(workloads) * len(plan["presets"]))

            def on_progress(w, stage):
                if stop.is_set():
                    raise KeyboardInterrupt
                progress.update(task, description=f"{stage:<7} {w.id}")

            def on_result(res):
                if (res.id, res.preset) in done:
                    return
                row = res.to_json()
                if profile and res.layer in layers_by_id:
                    row["model"] = model_entry(layers_by_id[res.layer], res.method, res.algorithm, profile,
                                               plan["accounting"])
                elif profile and res.id in nets:
                    row["model"] = entry_from_counts(network_model_counts(nets[res.id], plan["seed"]), profile,
                                                     "full")
                record["workloads"].append(row)
                if path:
                    write_record(record, path)                # every finished workload is on disk at once
                progress.advance(task)
                if stop.is_set():
                    raise KeyboardInterrupt
            try:
                runner.run(workloads, on_progress, on_result, skip=done)
                record["complete"] = True
            except KeyboardInterrupt:
                interrupted = True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if profile or record.get("model"):
        record["model"].update(agreement(best_per_workload(record["workloads"])))
    paths = []
    if path:
        paths.append(write_record(record, path))
    if args.json and Path(args.json) != path:
        paths.append(write_record(record, args.json))
    print_run(record, console)
    for p in paths:
        console.print(f"run record: {p}")
    if interrupted:
        print(f"suite: interrupted; {len(record['workloads'])} finished workloads are kept"
              + (f"; finish with: suite run --resume {paths[0]}" if paths else ""), file=sys.stderr)
        return 130
    good = ("compiled",) if compile_only else ("ok",)
    return 0 if all(r["status"] in good for r in record["workloads"]) else 1



def _check_outputs(args) -> None:
    if not args.no_save:
        _check_writable(args.results_dir)
    if args.json:
        parent = Path(args.json).parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise UserError(f"cannot write the run record to {args.json}: its folder does not exist or is not "
                            "writable")


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create results folder {folder}: {e.strerror or e}") from None
    if not folder.is_dir():
        raise UserError(f"results folder {folder} is not a folder")


def resolve_collectors(spec: str, target=None) -> tuple[list[str], dict]:
    """Collectors to run on ``target``, and for every registered one whether it is used and why (not)."""
    from targets.collectors import COLLECTORS, get_collector
    wanted = [] if spec == "none" else None if spec == "auto" else _csv(spec)
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


def profile_summary(p) -> dict:
    return {"name": p.name, "description": p.description, "source": p.source, "peak_flops": p.peak_flops,
            "bandwidth": p.bandwidth, "flops_per_mac": p.flops_per_mac, "estimate": p.estimate,
            "measured_here": p.measured_here}
