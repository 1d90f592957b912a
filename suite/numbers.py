"""One validator for every number the user gives and every number read from a file: finite and in
range, or one clear line (argparse turns a type error into exit code 2)."""
from __future__ import annotations

import argparse
import math


def finite(value: float, what: str, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` if finite and within [low, high] (open ends where asked), else ValueError(reason)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{what} must be {'>' if low_open else '>='} {low:g}, got {value:g}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{what} must be {'<' if high_open else '<='} {high:g}, got {value:g}")
    return float(value)


def _ascii_number(text: str, what: str) -> str:
    # int()/float() accept full-width and other Unicode digits ('２'); a layer or an option is ASCII
    if not text.isascii():
        raise ValueError(f"{what} must be written with ASCII digits, got {text!r}")
    return text.strip()


def float_arg(what: str, **limits):
    """An argparse ``type``: a finite float within the limits of :func:`finite`."""
    def parse(text: str) -> float:
        try:
            value = float(_ascii_number(text, what))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e) if "ASCII" in str(e) else f"{what} must be a number, got {text!r}")
        try:
            return finite(value, what, **limits)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = what                       # argparse names the type in its own messages
    parse.finite_float = True                   # lets a test find every float option of every command
    return parse


def int_arg(what: str, low: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(_ascii_number(text, what))
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e) if "ASCII" in str(e) else f"{what} must be an integer, got {text!r}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{what} must be at least {low}, got {value}")
        return value
    parse.__name__ = what
    return parse


def shape_arg(text: str) -> list[int]:
    """'1,3,128,128' -> [1, 3, 128, 128]: positive ASCII integers."""
    parts = [t.strip() for t in text.split(",")]
    if not parts or not all(t.isascii() and t.isdigit() and int(t) > 0 for t in parts):
        raise argparse.ArgumentTypeError(f"a shape is positive integers separated by commas, got {text!r}")
    return [int(t) for t in parts]
