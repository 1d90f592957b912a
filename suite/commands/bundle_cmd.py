"""suite bundle / suite import: run the workloads on a device the suite cannot drive."""
from __future__ import annotations

from pathlib import Path

from suite import options
from suite.numbers import int_arg
from suite.errors import UserError
from suite.selection import check_target, csv_list, resolve_layers


def add_parser(sub) -> None:
    p = sub.add_parser("bundle", help="write compiled modules + a runtime-only runner for another device")
    p.add_argument("-t", "--target", required=True, help="IREE target, e.g. aarch64-a72")
    p.add_argument("-o", "--output", type=Path, required=True, help="bundle folder (new or empty)")
    options.add_selection(p)
    p.add_argument("-d", "--device", help="runtime device on the target (default: the target's default)")
    p.add_argument("--preset", default="default")
    p.add_argument("--seed", type=int_arg("--seed", low=0), default=0)
    options.add_cache(p)
    p.set_defaults(func=main_bundle)
    q = sub.add_parser("import", help="import a bundle's result file as a run record")
    q.add_argument("result", type=Path, help="the bundle-result.json the device wrote")
    q.add_argument("--bundle", type=Path, help="the bundle folder (default: the result file's folder)")
    options.add_results_dir(q)
    q.set_defaults(func=main_import)


def main_bundle(args) -> int:
    from suite.bundle import make_bundle
    from suite.cache import CompileCache
    from suite.report import make_console
    from workloads.workload import expand
    target, device = check_target(args.target, args.device, None)
    target.flags(args.preset)
    workloads = expand(resolve_layers(args.catalogue, args.layer), csv_list(args.methods), csv_list(args.algorithms),
                       target.cpu_arch)
    console = make_console()
    with console.status("bundling...") as status:
        out = make_bundle(workloads, target, device, args.output, CompileCache(args.cache_dir), args.seed,
                          args.preset, on_progress=lambda w: status.update(f"compiling {w.id}"))
    n = len(out["manifest"]["workloads"])
    console.print(f"bundle {args.output}: {n} modules for {target.name} ({device})")
    for f in out["failures"]:
        console.print(f"  [yellow]not bundled[/] {f}")
    console.print(f"on the device: python3 {args.output}/run_bundle.py [--tools DIR_WITH_IREE_RUNTIME_TOOLS]"
                  f"\nthen here:     suite import {args.output}/bundle-result.json")
    return 0 if not out["failures"] else 1


def main_import(args) -> int:
    from suite.rows import is_ok
    from suite import outputs
    from suite.bundle import already_imported, import_result
    from suite.record import default_path, write_record
    from suite.text import visible
    bundle = args.bundle or args.result.parent
    outputs.folder(args.results_dir, "--results-dir")
    rec = import_result(args.result, bundle)
    earlier = already_imported(rec, args.results_dir)
    if earlier:
        raise UserError(f"{args.result} was imported already, as {earlier}")
    path = write_record(rec, default_path(rec, args.results_dir))
    ok = sum(is_ok(w) for w in rec["workloads"])
    print(f"imported {ok}/{len(rec['workloads'])} verified workloads measured on {visible(rec['machine']['cpu'])}: "
          f"{path}")
    return 0
