"""suite run: lower, compile, verify and time workloads on one target; store the run record.

Argument parsing, the progress bar and signals only: the run itself is `suite.run`."""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path

from suite import options
from suite.errors import UserError
from suite.malloc import POLICIES as MALLOC_POLICIES
from suite.sched import POLICIES as SCHED_POLICIES
from suite.numbers import float_arg, int_arg, shape_arg
from suite.paths import TUNING_DIR
from suite.rounds import MAX_TIME_S


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="compile, verify and time workloads",
                       description="Lower every workload through IREE, verify it against PyTorch, time it.")
    options.add_selection(p, layouts=True, networks=True)
    p.add_argument("--model", action="append", default=[], metavar="FILE.onnx",
                   help="an ONNX model, run as trained and deployed with each algorithm through IREE's ONNX "
                        "importer, verified against onnxruntime (repeatable)")
    p.add_argument("--input-shape", type=shape_arg, metavar="N,C,H,W",
                   help="the --model input's shape, for models exported with a dynamic or a dummy shape")
    how = p.add_argument_group("where and how")
    options.add_target(how)
    how.add_argument("--tune", choices=("auto", "none", "full"),
                     help="auto (default): each workload at the fastest verified lowering (preset x layout) of the "
                          "target's search space, decided once per testbed and kept in a tuning database; full: "
                          "search again; none: IREE's defaults (the default when --preset or --layout is given, "
                          "which otherwise narrow the search to their product)")
    how.add_argument("--runner", default="local", metavar="local|qemu|ssh://USER@HOST[:PORT]",
                     help="where modules run: local (this host); qemu (a cross target's modules under qemu-user "
                          "with IREE's runtime for that architecture; verified, timings labelled emulated); or a "
                          "device over SSH (compiled here, run, verified and timed there)")
    how.add_argument("--ssh-key", type=Path, help="private key for --runner ssh:// (default: the agent and ~/.ssh keys)")
    how.add_argument("--known-hosts", type=Path,
                     help="known_hosts file holding the device's host key (default: ~/.ssh/known_hosts)")
    how.add_argument("--cluster", metavar="ADDRESS",
                     help="a fleet on Dask distributed: its scheduler (tcp://HOST:PORT, or a scheduler file). Every "
                          "device its workers advertise (dask worker --resources device:NAME=1) runs every workload; "
                          "one run record per device (README: 'A fleet')")
    how.add_argument("--cluster-devices", metavar="NAMES", help="only these devices of --cluster (comma-separated)")
    how.add_argument("--device-grace", type=float_arg("--device-grace", low=0, high=3600), default=15.0, metavar="S",
                     help="how long a --cluster device may have no worker before its remaining jobs are recorded "
                          "as failed (default: 15)")
    how.add_argument("--cluster-timeout", type=float_arg("--cluster-timeout", low=0, high=3600, low_open=True),
                     default=10.0, metavar="S", help="how long to wait for the --cluster scheduler (default: 10)")
    how.add_argument("--peers", default="auto",
                     help="peer runtimes timed beside IREE on every layer (llvm-cpu): 'auto' (default: every one "
                          "installed), 'none', or a list of eager, eager-cl, onnxruntime, executorch-xnnpack")
    how.add_argument("--preset", action="append",
                     help="compilation strategy (presets combine with +), a comma-separated list to sweep (or the "
                          "option repeated), or 'all' (see `suite targets`); each workload runs with each, and the "
                          "table shows its fastest (default: default)")
    how.add_argument("--malloc", choices=tuple(MALLOC_POLICIES), default="system",
                     help="what the timed process's C allocator does with freed memory: 'system' as it comes "
                          "(large buffers mmapped per call, so page faults are timed too), 'retain' kept in the "
                          "process, the steady state of a deployed app (glibc only; default: system)")
    how.add_argument("--sched", choices=tuple(SCHED_POLICIES), default="normal",
                     help="CPU scheduling of the timed processes: 'normal' as processes come (default), 'fifo' "
                          "real-time priority 1, so a woken IREE worker does not wait behind another thread (fewer "
                          "of IREE's rows flip between a fast and a slow mode; see suite/sched.py for what it "
                          "does to the peers), 'auto' fifo where permitted (root or RLIMIT_RTPRIO), else normal")
    how.add_argument("--repetitions", type=int_arg("--repetitions"), default=10,
                     help="timed samples per workload (>= 9)")
    how.add_argument("--min-time", type=float_arg("--min-time", low=0, high=3600, low_open=True), default=0.05,
                     metavar="S", help="minimum seconds per sample")
    how.add_argument("--max-time", type=float_arg("--max-time", low=0, high=3600, low_open=True), default=MAX_TIME_S,
                     metavar="S", help="timed seconds after which a row stops once it has 5 samples, as asv's "
                                       "max_time: rows of slow calls take fewer samples, fast rows all of them "
                                       f"(default: {MAX_TIME_S:g})")
    how.add_argument("--seed", type=int_arg("--seed", low=0), default=0, help="seed for weights and inputs")
    how.add_argument("--verify-only", action="store_true", help="compile and verify, but do not time")
    how.add_argument("-p", "--profile", default="calibrated",
                     help="device profile for the model beside each measurement (default: calibrated on this "
                          "machine, measured once and stored in --profiles-dir); 'none' to skip")
    how.add_argument("--accounting", choices=("paper", "full"), default="full",
                     help="which traffic the model charges (default: full)")
    options.add_profiles_dir(how)
    how.add_argument("--tuning-dir", type=Path, default=TUNING_DIR,
                     help=f"where tuning databases are kept, one per testbed (default: {TUNING_DIR})")
    how.add_argument("--counters", default="auto",
                     help="comma-separated counter collectors (see `suite targets`), 'auto' for every available "
                          "one that costs no simulation, or 'none'")
    how.add_argument("--compile-timeout", type=float_arg("--compile-timeout", low=0, high=86400, low_open=True),
                     default=600.0, metavar="S")
    how.add_argument("--run-timeout", type=float_arg("--run-timeout", low=0, high=86400, low_open=True),
                     default=600.0, metavar="S")
    out = p.add_argument_group("where results go")
    out.add_argument("--json", type=Path, metavar="PATH", help="also write the run record to PATH")
    options.add_results_dir(out)
    out.add_argument("--no-save", action="store_true", help="do not store the run record in --results-dir")
    options.add_cache(out)
    options.add_format(out)
    out.add_argument("--force", action="store_true", help="let --json replace an existing file")
    out.add_argument("--no-cache", action="store_true", help="always recompile")
    out.add_argument("--resume", metavar="RUN", help="finish an interrupted run (a record path, id or 'latest'); "
                                                     "its own settings are used")
    p.set_defaults(func=main)


def plan_from_args(args):
    from suite.run import make_plan
    return make_plan(target=args.target, device=args.device, threads=args.threads, catalogues=args.catalogue,
                     layers=args.layer, layouts=args.layout, networks=args.network, models=args.model,
                     input_shape=args.input_shape, methods=args.methods,
                     algorithms=args.algorithms, presets=args.preset, seed=args.seed, malloc=args.malloc,
                     sched=args.sched, repetitions=args.repetitions, min_time=args.min_time, max_time=args.max_time,
                     verify_only=args.verify_only,
                     counters=args.counters, profile=args.profile, accounting=args.accounting,
                     compile_timeout=args.compile_timeout, run_timeout=args.run_timeout, tune=args.tune,
                     peers=args.peers, runner=args.runner)


def storage_from_args(args):
    from suite.run import Storage
    return Storage(results_dir=args.results_dir, save=not args.no_save, json_path=args.json,
                   cache_dir=args.cache_dir, use_cache=not args.no_cache, profiles_dir=args.profiles_dir,
                   tuning_dir=args.tuning_dir)


def main(args) -> int:
    from suite.report import make_console, print_run
    from suite.run import Run
    console = make_console(160)
    say = console.print
    if args.resume:
        _check_resume_alone(args)
        if args.json:
            from suite import outputs
            outputs.new_file(args.json, "--json", args.force)
        from suite.run import load_resumable
        plan, record, path = load_resumable(args.resume, storage_from_args(args))
        if plan.runner.startswith("ssh://"):
            return _run_remote(plan, args, console, resume=(record, path))
        if plan.runner.startswith("cluster:"):
            return _run_fleet(args, console, plan=plan, resume=(record, path))
        run = Run(plan, storage_from_args(args), record, path, say)
    else:
        _check_outputs(args)                              # paths first: nothing is done for a run that cannot be kept
        if args.cluster:
            return _run_fleet(args, console)
        plan = plan_from_args(args)
        if plan.runner.startswith("ssh://"):
            return _run_remote(plan, args, console)
        run = Run(plan, storage_from_args(args), say=say)
    if run.compile_only:
        console.print(f"[yellow]{run.plan.target}: {run.compile_only}[/]; compiling (and counting statically) only")
    for name, note in run.collector_notes.items():
        if not note["used"] and (run.plan.counters not in ("auto", "none") or not note["available"]) \
                and "does not apply" not in note["reason"]:
            console.print(f"[yellow]counters: {name} not used[/]: {note['reason']}")
    if not run.plan.algorithms and run.plan.layers:       # what the default set of algorithms leaves out here
        from targets import get_target
        from workloads.workload import unavailable_algorithms
        for name, why in unavailable_algorithms(get_target(run.plan.target).cpu_arch).items():
            console.print(f"[yellow]{name} left out[/]: {why}")
    if run.done:
        console.print(f"resuming {run.path}: {len(run.done)} results kept, {len(run.pending)} workloads to run")
    _execute_with_progress(run, console)
    paths = run.finish()
    if args.format == "markdown":
        from suite.report import verdict_markdown
        print(verdict_markdown(run.record), end="")
    else:
        print_run(run.record, console)
    for p in paths:
        console.print(f"run record: {p}")
    if run.interrupted:
        print(f"suite: interrupted; {len(run.record['workloads'])} finished workloads are kept"
              + (f"; finish with: suite run --resume {paths[0]}" if paths else ""), file=sys.stderr)
    return run.exit_code


def _run_remote(plan, args, console, resume=None) -> int:
    """A device over SSH: the whole run happens there; each row comes back as it finishes. Resuming
    takes the key and known-hosts paths the run was started with unless they are named again."""
    from suite.remote import run_over_ssh
    from suite.report import print_run
    from suite.rows import is_ok
    stored = resume[0]["settings"].get("remote", {}) if resume else {}
    key = args.ssh_key or (Path(stored["ssh_key"]) if stored.get("ssh_key") else None)
    known = args.known_hosts or (Path(stored["known_hosts"]) if stored.get("known_hosts") else None)
    if resume:
        console.print(f"resuming {resume[1]}: {len(resume[0]['workloads'])} results kept")
    with _stopping_on_signals():
        record, path = run_over_ssh(plan, plan.runner, key, known, storage_from_args(args), say=console.print,
                                    resume=resume)
    print_run(record, console)
    for p in dict.fromkeys(x for x in (path, args.json) if x):
        console.print(f"run record: {p}")
    return 0 if all(is_ok(w) for w in record["workloads"]) else 1


def _run_fleet(args, console, plan=None, resume=None) -> int:
    """A fleet: every device of the cluster runs the plan; one record per device, saved row by row.
    Resuming finishes one device's interrupted record, on the cluster it was started on."""
    from suite.fleet import run_on_cluster
    from suite.report import print_run
    from suite.rows import is_ok
    from suite.selection import csv_list
    if args.json:
        raise UserError("--json takes one record; a --cluster run stores one per device in --results-dir")
    if plan is None:
        if args.runner != "local":
            raise UserError("--cluster and --runner are two ways of saying where modules run; give one")
        args.runner = f"cluster:{args.cluster}"
        plan = plan_from_args(args)
    else:
        console.print(f"resuming {resume[1]}: {len(resume[0]['workloads'])} results kept")
    address = plan.runner.split(":", 1)[1]
    with _stopping_on_signals():
        devices = run_on_cluster(plan, address, storage_from_args(args), say=console.print,
                                 names=csv_list(args.cluster_devices), grace_s=args.device_grace,
                                 timeout_s=args.cluster_timeout, resume=resume)
    for d in devices:
        console.rule(f"device {d.name}")
        print_run(d.record, console)
        if d.path:
            console.print(f"run record: {d.path}")
    return 0 if devices and all(is_ok(w) for d in devices for w in d.record["workloads"]) else 1


@contextlib.contextmanager
def _stopping_on_signals():
    """Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread, which stops a run and keeps
    what is done, whatever SIGINT's disposition this process inherited: a parent inside system()
    (or a shell starting a background job) hands it down ignored, and Python then installs no
    handler of its own (a fleet run started by a test ignored its Ctrl-C that way). Yields a flag that stays set, for code that checks again
    where a library we are inside (torch export, the MLIR bindings) swallows the KeyboardInterrupt."""
    stop = threading.Event()

    def _interrupt(signum, frame):
        stop.set()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _execute_with_progress(run, console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    # every stage boundary checks the stop flag again (see _stopping_on_signals)
    with _stopping_on_signals() as stop:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("starting", total=len(run.pending) * len(run.plan.presets))

            def on_progress(w, stage):
                if stop.is_set():
                    raise KeyboardInterrupt
                progress.update(task, description=f"{stage:<7} {w.id}")

            def on_row(row):
                progress.advance(task)
                if stop.is_set():
                    raise KeyboardInterrupt
            run.execute(on_progress, on_row)


# what defines a run is stored with it; --resume takes those, so naming any of them again is a contradiction
_PLAN_OPTIONS = ("cluster", "catalogue", "layer", "layout", "network", "model", "input_shape", "peers", "runner",
                 "methods", "algorithms", "target", "tune", "preset", "device", "threads", "malloc", "sched",
                 "repetitions", "min_time", "max_time", "seed", "verify_only", "profile",
                 "accounting", "counters", "compile_timeout", "run_timeout", "no_save")


def _check_resume_alone(args) -> None:
    from suite.cli import build_parser
    defaults = build_parser().parse_args(["run"])
    given = [name for name in _PLAN_OPTIONS if getattr(args, name) != getattr(defaults, name)]
    if given:
        flags = ", ".join("--" + g.replace("_", "-") for g in given)
        raise UserError(f"--resume finishes a run with its own stored settings; drop {flags} "
                        "(or start a new run without --resume)")


def _check_outputs(args) -> None:
    """Every path this run writes, checked before any work (suite.outputs)."""
    from suite import outputs
    if not args.no_save:
        outputs.folder(args.results_dir, "--results-dir")
    if args.json:
        outputs.new_file(args.json, "--json", args.force)
    if args.cache_dir:
        outputs.folder(args.cache_dir, "--cache-dir")
    outputs.folder(args.tuning_dir, "--tuning-dir", create=False)
    outputs.folder(args.profiles_dir, "--profiles-dir", create=False)
