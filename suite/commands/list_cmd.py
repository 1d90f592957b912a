"""suite list: catalogues and their layers, methods, algorithms."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="list catalogues, layers, methods and algorithms")
    p.add_argument("catalogue", nargs="?", help="show only this catalogue's layers")
    p.set_defaults(func=main)


def main(args) -> int:
    from rich.table import Table
    from suite.report import make_console, print_table
    from workloads.algorithms import ALGORITHMS
    from workloads.catalogue import CATALOGUES, DEFAULT, catalogue
    from workloads.methods import DESCRIPTIONS
    console = make_console()
    names = [args.catalogue] if args.catalogue else list(CATALOGUES)
    t = Table(title="catalogues", title_justify="left", header_style="bold")
    for c in ("catalogue", "layer", "id", "out (C-SP)", "description"):
        t.add_column(c)
    for name in names:
        layers = catalogue(name)
        desc = CATALOGUES[name][0] + (" [bold](default)[/]" if name == DEFAULT else "")
        for i, layer in enumerate(layers):
            oh, ow = layer.out_hw("C-SP")
            t.add_row(name if i == 0 else "", layer.name or "-", layer.id, f"{oh}x{ow}", desc if i == 0 else "")
    print_table(console, t)
    if args.catalogue:
        return 0
    m = Table(title="methods", title_justify="left", header_style="bold")
    m.add_column("method")
    m.add_column("what it computes")
    for k, v in DESCRIPTIONS.items():
        m.add_row(k, v)
    console.print(m)
    a = Table(title="deconvolution algorithms (for D-SP and D-NN)", title_justify="left", header_style="bold")
    a.add_column("algorithm")
    a.add_column("how it runs")
    for alg in ALGORITHMS.values():
        forms = f" (other forms the tuner tries: {', '.join(alg.form_names)})" if alg.form_names else ""
        a.add_row(alg.name, alg.summary + forms)
    console.print(a)
    from workloads.networks import NETWORKS
    n = Table(title="networks (suite run --network NAME; suite deploy --network NAME)", title_justify="left",
              header_style="bold")
    n.add_column("network")
    n.add_column("input")
    n.add_column("what it is")
    for name, (_, shape, desc) in NETWORKS.items():
        n.add_row(name, "x".join(map(str, shape)), desc)
    console.print(n)
    return 0
