"""suite roofline: each workload of a stored run against the roof of the profile it was modelled on --
arithmetic intensity, achieved FLOP/s and bytes/s -- as a table and a plot file (SVG or PNG)."""
from __future__ import annotations

from pathlib import Path


from suite import options
from suite.errors import UserError
from suite.paths import find_run


def add_parser(sub) -> None:
    p = sub.add_parser("roofline", help="roofline table and plot of a stored run")
    p.add_argument("record", nargs="?", type=Path, help="a run record (default: the newest in --results-dir)")
    options.add_results_dir(p)
    p.add_argument("-o", "--output", type=Path, help="plot file, .svg or .png (default: beside the record)")
    p.add_argument("--force", action="store_true", help="let --output replace an existing file")
    p.set_defaults(func=main)


def newest_record(folder: Path) -> Path:
    return find_run("latest", folder)


def points(record: dict) -> list[dict]:
    from suite.rows import Record
    from workloads.algorithms import algorithm_label
    out = []
    for r in Record(record).iree_rows:
        m = r.model
        if not r.ok or not m or r.median_ms is None:
            continue
        t = r.median_ms / 1e3
        out.append({"label": r.method + (f" {algorithm_label(r.algorithm)}" if r.algorithm else ""),
                    "layer": r.layer_name or r.layer, "intensity": m["intensity"],
                    "flops_per_s": m["flops"] / t, "bytes_per_s": m["bytes"] / t})
    return out


def plot(pts: list[dict], peak: float, bw: float, title: str, path: Path) -> None:
    from suite.report import si
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    fig, ax = plt.subplots(figsize=(9, 6))
    lo = min([p["intensity"] for p in pts] + [peak / bw]) / 4
    hi = max([p["intensity"] for p in pts] + [peak / bw]) * 4
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    ax.loglog(xs, np.minimum(peak, xs * bw), "k-", lw=2, label=f"roof: {si(peak)}FLOP/s, {si(bw)}B/s")
    layers = sorted({p["layer"] for p in pts})
    markers = "osD^v<>ph*"
    for i, layer in enumerate(layers):
        mine = [p for p in pts if p["layer"] == layer]
        ax.scatter([p["intensity"] for p in mine], [p["flops_per_s"] for p in mine], marker=markers[i % len(markers)],
                   label=layer, alpha=0.8)
        for p in mine:
            ax.annotate(p["label"], (p["intensity"], p["flops_per_s"]), fontsize=6, xytext=(3, 2),
                        textcoords="offset points")
    ax.set_xlabel("arithmetic intensity (model FLOP / model byte)")
    ax.set_ylabel("achieved FLOP/s (model FLOP / measured median time)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(args) -> int:
    from rich.table import Table
    from suite.record import load_record
    from suite.report import make_console, print_table, si
    if args.output:
        from suite import outputs
        if args.output.suffix.lower() not in (".svg", ".png"):
            raise UserError(f"--output must end in .svg or .png, got {args.output.name}")
        outputs.new_file(args.output, "--output", args.force)     # the default, beside the record, is ours
    path = args.record or newest_record(args.results_dir)
    record = load_record(path)
    model = record.get("model")
    if not model:
        raise UserError(f"{path} was run without a model; run again with --profile")
    pts = points(record)
    if not pts:
        raise UserError(f"{path} has no timed workloads with a model estimate")
    prof = model["profile"]
    peak, bw = prof["peak_flops"], prof["bandwidth"]
    console = make_console()
    t = Table(title=f"roofline: profile {prof['name']} ({si(peak)}FLOP/s, {si(bw)}B/s)", title_justify="left",
              header_style="bold")
    for c in ("layer", "workload", "FLOP/B", "achieved FLOP/s", "achieved B/s", "% of roof"):
        t.add_column(c, justify="left" if c in ("layer", "workload") else "right")
    for p in pts:
        roof = min(peak, p["intensity"] * bw)
        t.add_row(p["layer"], p["label"], f"{p['intensity']:.2f}", si(p["flops_per_s"]), si(p["bytes_per_s"]),
                  f"{100 * p['flops_per_s'] / roof:.1f}")
    print_table(console, t)
    out = args.output or path.with_suffix(".roofline.svg")
    if out.suffix.lower() not in (".svg", ".png"):
        raise UserError(f"--output must end in .svg or .png, got {out.name}")
    where = "measured on this machine" if prof.get("measured_here") else "not measured on this machine"
    plot(pts, peak, bw, f"{record['target']['name']} ({record['target']['device']}) - profile {prof['name']} "
                        f"({where}), {model['accounting']} accounting", out)
    console.print(f"plot: {out}")
    return 0
