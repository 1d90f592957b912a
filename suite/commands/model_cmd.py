"""suite model: the analytical counts, time and energy of every workload (no compilation, no run)."""
from __future__ import annotations

from itertools import groupby

from suite import options
from suite.profiles import builtin_profiles
from suite.selection import check_target, csv_list, resolve_layers, resolve_profile, run_threads
from workloads.counts import ACCOUNTINGS


def add_parser(sub) -> None:
    p = sub.add_parser("model", help="analytical MACs, bytes, time and energy of workloads (no run)")
    options.add_selection(p)
    p.add_argument("-p", "--profile", default="gtx680",
                   help=f"device profile: {', '.join(builtin_profiles())} or calibrated (default: gtx680)")
    p.add_argument("--accounting", choices=ACCOUNTINGS, default="paper",
                   help="paper: charge what the paper's model charges; full: every feature map moved")
    options.add_target(p)
    options.add_profiles_dir(p)
    options.add_cache(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from rich.table import Table

    from suite.model import estimate
    from suite.report import make_console, print_table, si
    from workloads.algorithms import algorithm_label
    from workloads.counts import counts
    from workloads.workload import expand
    console = make_console(170)
    workloads = expand(resolve_layers(args.catalogue, args.layer), csv_list(args.methods), csv_list(args.algorithms))
    if args.profile == "calibrated":                     # the profile a default run uses
        target, device = check_target(args.target, args.device, args.threads)
        args.threads = run_threads(target, device, args.threads)
    prof = resolve_profile(args.profile, args.target, args.device, args.threads, args.profiles_dir, args.cache_dir,
                           on_calibrate=lambda t, d: console.print(f"calibrating {t}/{d} once for this machine..."))
    fpm = "one MAC = one flop (paper's convention)" if prof.flops_per_mac == 1 else "one MAC = 2 flops"
    console.print(f"[bold]profile {prof.name}[/]: {prof.description}")
    console.print(f"  {si(prof.peak_flops)}FLOP/s, {si(prof.bandwidth)}B/s"
                  + (f", {prof.pj_per_flop} pJ/flop, {prof.pj_per_byte} pJ/B, {prof.static_watts} W static"
                     if prof.has_energy else ", no energy constants (energy not modelled)")
                  + f"; {fpm}; fp32; {args.accounting} accounting"
                  + ("; [yellow]constants are estimates[/]" if prof.estimate else "")
                  + ("" if prof.measured_here else "; [dim]not measured on this machine[/]"))
    console.print(f"  source: {prof.source}")
    notes = set()
    for layer, group in groupby(workloads, key=lambda w: w.layer):
        rows = [(w, counts(w.layer, w.method, w.algorithm)) for w in group]
        ests = [estimate(c, prof, args.accounting) for _, c in rows]
        ref = next((e for (w, _), e in zip(rows, ests) if (w.method, w.algorithm) == ("D-SP", "REVD2")), ests[0])
        t = Table(title=f"{layer.label}  [dim]{layer.id}[/]", title_justify="left", header_style="bold")
        for col in ("method", "alg", "MACs", "weights B", "in B", "out B", "interm. B", "charged B",
                    "FLOP/B", "bound", "T ms", "E mJ", "T/ref", "E/ref"):
            t.add_column(col, justify="left" if col in ("method", "alg", "bound") else "right", no_wrap=True)
        for (w, c), e in zip(rows, ests):
            if c.note:
                notes.add(f"{w.method} {w.algorithm}: {c.note}")
            inter = c.elements("full", "intermediate") * c.dtype_bytes
            uncharged = c.bytes("full") - c.bytes(args.accounting)
            t.add_row(w.method, algorithm_label(w.algorithm), si(c.macs), si(c.bytes("full", "weights")),
                      si(c.bytes("full", "input")), si(c.bytes("full", "output")),
                      si(inter) + ("*" if uncharged else ""), si(e.bytes), f"{e.intensity:.1f}", e.bound,
                      f"{e.time * 1e3:.3f}", "-" if e.energy is None else f"{e.energy * 1e3:.3f}",
                      f"{e.time / ref.time:.2f}",
                      "-" if e.energy is None or not ref.energy else f"{e.energy / ref.energy:.2f}")
        print_table(console, t)
    console.print("ref = D-SP REVD2 of the same layer. * = intermediate traffic the "
                  f"{args.accounting} accounting does not charge.")
    for n in sorted(notes):
        console.print(f"  note: {n}")
    return 0

