"""suite deploy: transform a network's upsampling layers into deconvolutions, verify, report, and
optionally write the deployed module's MLIR and compiled module."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from suite.errors import UserError
from suite.numbers import int_arg, shape_arg

if TYPE_CHECKING:
    import torch


def add_parser(sub) -> None:
    p = sub.add_parser("deploy", help="transform a network's sub-pixel / resize convolutions into deconvolutions")
    p.add_argument("model", nargs="?", type=Path,
                   help="an ONNX model: each sub-pixel / nearest-resize conv becomes its exact deconvolution")
    p.add_argument("-o", "--output", type=Path, help="where the deployed ONNX model goes (with MODEL.onnx)")
    p.add_argument("--input-shape", type=shape_arg, metavar="N,C,H,W",
                   help="the ONNX model's input shape, for models exported with a dynamic or a dummy shape")
    p.add_argument("--image", type=Path, help="a real input (a serialized TensorProto, .pb) to verify on as well")
    p.add_argument("-n", "--network", help="a torch architecture of the catalogue (see `suite list`)")
    p.add_argument("--state-dict", type=Path, help="trained weights for the architecture (torch.save of a state_dict)")
    p.add_argument("-a", "--algorithm", default="REVD",
                   help="deconvolution algorithm with a torch form (see `suite list`; default: REVD)")
    p.add_argument("--mlir", type=Path, help="write the deployed network's MLIR here")
    p.add_argument("--vmfb", type=Path, help="compile the deployed network for --target and write it here")
    p.add_argument("-t", "--target", default="llvm-cpu")
    p.add_argument("--seed", type=int_arg("--seed", low=0), default=0)
    p.add_argument("--force", action="store_true", help="let --mlir / --vmfb replace existing files")
    p.set_defaults(func=main)


def load_state_dict(net: torch.nn.Module, path: Path) -> None:
    import torch
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"cannot read {path}: no such file") from None
    except Exception as e:                                       # noqa: BLE001 - any unreadable file
        raise UserError(f"{path} is not a readable state_dict: {type(e).__name__}: {e}") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path} does not fit the {type(net).__name__} architecture: {first}") from None


def main(args) -> int:
    if args.model is not None:
        return main_onnx(args)
    if not args.network:
        raise UserError("deploy: name an ONNX model file or a network (-n)")
    from rich.table import Table
    from suite.report import make_console, print_table
    from workloads.deploy import deploy
    from workloads.networks import build_network
    from suite import outputs
    for flag, path in (("--mlir", args.mlir), ("--vmfb", args.vmfb)):
        if path:
            outputs.new_file(path, flag, args.force)           # before any work
    net, x = build_network(args.network, args.seed)
    if args.state_dict:
        load_state_dict(net, args.state_dict)
    result = deploy(net, x, args.algorithm)
    console = make_console(150)
    t = Table(title=f"{args.network}: deployed with {args.algorithm}", title_justify="left", header_style="bold")
    for c in ("layer", "pattern", "input", "output", "K", "r", "deconv Kd", "crop (t,b,l,r)", "algorithm"):
        t.add_column(c)
    for c in result.changes:
        t.add_row(c.node, c.pattern, "x".join(map(str, c.in_shape)), "x".join(map(str, c.out_shape)), str(c.kernel),
                  str(c.r), str(c.deconv_kernel), ",".join(map(str, c.crop)), c.algorithm)
    print_table(console, t)
    for r in result.refused:
        console.print(f"  [yellow]left alone[/] {r.node}: {r.reason}")
    console.print(f"verified: deployed vs trained, max |difference| {result.max_abs_err:.2e} over 3 inputs")
    if args.mlir or args.vmfb:
        from suite.build import build_module
        from suite.cache import CompileCache, atomic_write
        from suite.export import to_mlir
        from targets import get_target
        from workloads.algorithms import Lowering
        mlir, input_type = to_mlir(Lowering(module=result.module), x)
        if args.mlir:
            atomic_write(args.mlir, mlir)
            console.print(f"MLIR: {args.mlir}")
        if args.vmfb:
            target = get_target(args.target)
            built = build_module(CompileCache(), mlir, input_type, target.flags(), 600)
            atomic_write(args.vmfb, built.vmfb.read_bytes())
            console.print(f"compiled for {target.name}: {args.vmfb}")
    return 0


def main_onnx(args) -> int:
    """suite deploy MODEL.onnx -o OUT.onnx: rewrite, check, verify, write; a per-node table of what was done."""
    from rich.table import Table

    from suite import outputs
    from suite.report import make_console, print_table
    from suite.text import safe
    from workloads.onnx_deploy import deploy
    from workloads.onnx_graph import load, read_tensor, with_input_shape
    if args.network or args.state_dict or args.mlir or args.vmfb:
        raise UserError("deploy: -n, --state-dict, --mlir and --vmfb are for torch networks, not an ONNX file")
    if args.output is None:
        raise UserError("deploy: name the deployed model's file with -o OUT.onnx")
    outputs.new_file(args.output, "--output", args.force)
    model = with_input_shape(load(args.model), args.input_shape)
    example = read_tensor(args.image) if args.image else None
    result = deploy(model, args.algorithm, example)
    console = make_console(150)
    if result.model is None:
        for r in result.refused:
            console.print(f"  [yellow]left alone[/] {safe(r.node)} ({r.op}): {safe(r.reason)}")
        console.print(f"{safe(args.model)}: nothing to transform (no sub-pixel or nearest-resize convolution "
                      "that is exactly a deconvolution)")
        return 0
    t = Table(title=f"{safe(args.model)}: deployed with {result.changes[0].algorithm}", title_justify="left",
              header_style="bold")
    for c in ("node", "pattern", "conv (C_in -> C_out', K)", "r", "deconv Kd", "moved across", "algorithm"):
        t.add_column(c)
    for c in result.changes:
        t.add_row(safe(c.node), c.pattern, c.conv_shape, str(c.r), str(c.deconv_kernel), ", ".join(c.moved) or "-",
                  c.algorithm)
    print_table(console, t)
    for r in result.refused:
        console.print(f"  [yellow]left alone[/] {safe(r.node)} ({r.op}): {safe(r.reason)}")
    import onnx
    from suite.cache import atomic_write
    atomic_write(args.output, result.model.SerializeToString())
    onnx.checker.check_model(str(args.output), full_check=True)
    inputs = ("the real input and " if example is not None else "") + "3 random inputs"
    console.print(f"verified under onnxruntime on {inputs}: max |difference| {result.max_abs_err:.2e}; "
                  f"onnx.checker passed; written to {safe(args.output)}")
    return 0
