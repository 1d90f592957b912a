"""Option groups that several commands share, defined once (argparse only; the values they
produce are resolved by `suite.selection`)."""
from __future__ import annotations

from pathlib import Path

from suite.numbers import float_arg, int_arg
from suite.paths import PROFILES_DIR, RESULTS_DIR
from workloads.catalogue import DEFAULT as DEFAULT_CATALOGUE


def add_selection(p, *, layouts: bool = False, networks: bool = False) -> None:
    """-c/-l/-m/-a (and --layout, -n where the command takes them): what to run or count."""
    g = p.add_argument_group("what to run")
    g.add_argument("-c", "--catalogue", action="append", default=[], metavar="NAME",
                   help=f"a layer catalogue, or a comma-separated list (repeatable; default: {DEFAULT_CATALOGUE} "
                        "unless --layer is given)")
    g.add_argument("-l", "--layer", action="append", default=[], metavar="SPEC",
                   help="a layer, inline (cin=7,cout=5,h=13,w=17,k=5,r=3[,batch=,pad=,bias=,layout=]) or by name")
    if layouts:
        g.add_argument("--layout", metavar="LIST", action="append",
                       help="tensor layout of every layer's input and output: nchw, nhwc, or nchw,nhwc to run both "
                            "(default: each layer's own, nchw unless given inline); nhwc pays off with the "
                            "channels-last preset, where IREE's convs run NHWC with no transposes left; "
                            "nhwc-blocked also pads and splits the conv for llvm-cpu's vectors and sets "
                            "its tiles with a tuning spec (C-SP, C-NN, TDCF)")
    if networks:
        g.add_argument("-n", "--network", action="append", default=[], metavar="NAME",
                       help="a whole network, as trained and as deployed with each algorithm (see `suite list`)")
    g.add_argument("-m", "--methods", action="append", help="comma-separated methods, repeatable (default: all)")
    g.add_argument("-a", "--algorithms", action="append",
                   help="comma-separated deconvolution algorithms, repeatable (default: all)")


def add_target(p, *, threads: bool = True) -> None:
    """-t/-d/--threads: the IREE target and its runtime device."""
    p.add_argument("-t", "--target", default="llvm-cpu", help="IREE target (see `suite targets`)")
    p.add_argument("-d", "--device", help="runtime device, e.g. local-task (threads) or local-sync (one thread)")
    if threads:
        p.add_argument("--threads", type=int_arg("--threads", low=1),
                       help="worker threads for local-task, unpinned (default on this host: one per usable CPU)")


def add_cache(p) -> None:
    p.add_argument("--cache-dir", type=Path, help="compiled-module cache (default: ~/.cache/upsampling-suite)")


def add_profiles_dir(p) -> None:
    p.add_argument("--profiles-dir", type=Path, default=PROFILES_DIR,
                   help=f"where calibrated profiles are stored (default: {PROFILES_DIR})")


def add_results_dir(p) -> None:
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR,
                   help=f"where run records are stored (default: {RESULTS_DIR})")


def add_format(p) -> None:
    p.add_argument("--format", choices=("text", "markdown"), default="text",
                   help="text: the full tables; markdown: the per-layer verdict as a markdown table (default: text)")


def add_comparison(p) -> None:
    """How two runs' latencies are judged (compare, check)."""
    p.add_argument("--threshold", type=float_arg("--threshold", low=0, high=10, low_open=True), default=0.10,
                   help="relative change that matters (default 0.10)")
    p.add_argument("--min-delta", type=float_arg("--min-delta", low=0, high=1e6), default=0.0, metavar="MS",
                   help="absolute floor: latency changes smaller than this many ms count as similar")
    p.add_argument("--alpha", type=float_arg("--alpha", low=0, high=0.5, low_open=True), default=0.01,
                   help="significance level of the Mann-Whitney U test (0 < alpha <= 0.5; default 0.01)")
