"""`suite`: the command line. Each verb lives in suite/commands/<verb>.py as a thin layer over
functions that tests call directly. Bad input ends with one line on stderr and exit code 2."""
from __future__ import annotations

import argparse
import sys

from suite import __version__
from suite.commands import (baseline_cmd, bundle_cmd, calibrate_cmd, deploy_cmd, check_cmd, compare_cmd, history_cmd, list_cmd, model_cmd,
                            roofline_cmd, run_cmd, show_cmd, targets_cmd)
from suite.errors import UserError

COMMANDS = (run_cmd, show_cmd, history_cmd, compare_cmd, check_cmd, baseline_cmd, model_cmd, calibrate_cmd,
            roofline_cmd, bundle_cmd, deploy_cmd, list_cmd, targets_cmd)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):                 # argparse's own errors: one line, exit 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="suite", description="Benchmark convolution-based image upsampling compiled through IREE.")
    p.add_argument("--version", action="version", version=f"upsampling-suite {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for cmd in COMMANDS:
        cmd.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:                         # argparse's own errors (already printed) and --help
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except UserError as e:
        from suite.text import visible
        print(f"suite: error: {visible(str(e))}", file=sys.stderr)     # a file name or a device's text, as text
        return 2
    except KeyboardInterrupt:
        print("suite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
