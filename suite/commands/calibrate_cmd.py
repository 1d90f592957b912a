"""suite calibrate: measure this machine's peak bandwidth and compute through IREE, store the profile."""
from __future__ import annotations

from suite import options
from suite.selection import check_target, run_threads


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="measure peak bandwidth and compute through IREE on this machine")
    options.add_target(p)
    options.add_profiles_dir(p)
    options.add_cache(p)
    p.add_argument("--force", action="store_true", help="measure again even if a profile is stored")
    p.set_defaults(func=main)


def main(args) -> int:
    from suite.cache import CompileCache
    from suite.calibrate import load_or_calibrate
    from suite.report import make_console, si
    target, device = check_target(args.target, args.device, args.threads)
    threads = run_threads(target, device, args.threads)               # the profile a default run uses
    console = make_console()
    with console.status(f"calibrating {target.name}/{device} (a streaming kernel, a matmul, the fixed costs, "
                        "REVD2's gather, the FMA latency, the cache's bandwidth and a faulted page)..."):
        prof, path, fresh = load_or_calibrate(args.profiles_dir, target, device, threads,
                                              CompileCache(args.cache_dir), force=args.force)
    console.print(f"{'measured' if fresh else 'stored'} profile for {prof.description}:")
    console.print(f"  peak compute   {si(prof.peak_flops)}FLOP/s")
    console.print(f"  peak bandwidth {si(prof.bandwidth)}B/s")
    console.print(f"  balance        {prof.peak_flops / prof.bandwidth:.1f} FLOP/byte")
    if prof.call_s is not None:
        console.print(f"  fixed costs    {prof.call_s * 1e6:.1f} us a call, {(prof.dispatch_s or 0) * 1e6:.1f} us "
                      "each further dispatch")
    if prof.vector_lanes:
        console.print(f"  vector lanes   {prof.vector_lanes} f32 (the model's lane term)")
    if prof.latency_lanes:
        console.print(f"  FMA latency    {prof.latency_lanes:.0f} accumulator lanes in flight reach the peak (the "
                      "model's term for a conv vectorised along its output width)")
    if prof.cache_bandwidth and prof.cache_bytes:
        console.print(f"  in cache       {si(prof.cache_bandwidth)}B/s within the {prof.cache_bytes / 2**20:g} MiB "
                      "last-level cache (the model's rate for a data-moving dispatch of a call that fits in it)")
    if prof.gather_flops:
        console.print(f"  gather         {si(prof.gather_flops)}FLOP/s (REVD2's tensor.extract loop: "
                      "the model's rate for it)")
    if prof.tap_flops:
        console.print(f"  tap matmul     {si(prof.tap_flops)}FLOP/s (REVD's and STDD's tap groups, the phases "
                      "innermost: the model's rate for them)")
    if prof.fault_s_per_byte:
        console.print(f"  fresh pages    {prof.fault_s_per_byte * 4096 * 1e6:.2f} us a 4 KiB page a call touches fresh "
                      f"({si(1 / prof.fault_s_per_byte)}B/s: the model's charge on the bytes page-faults counts)")
    console.print(f"  stored in      {path}")
    return 0
