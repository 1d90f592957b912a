"""Text that comes from outside (a record, a model file, a device, a failure reason) is printed as
text: rich markup escaped and control characters made visible, so '[/bold]' in a CPU name or an ESC
in an error message can neither crash a command nor reach the terminal raw."""
from __future__ import annotations

import re

from rich.markup import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Control characters (ESC, BEL, ...) as escapes; newlines and tabs kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def safe(text) -> str:
    """Any value as text that rich prints literally."""
    return escape(visible(str(text)))


def display_copy(value):
    """A deep copy of a record (dicts, lists, strings, numbers) with every string made :func:`safe`;
    reports format from the copy, so every cell and line they build prints literally."""
    if isinstance(value, str):
        return safe(value)
    if isinstance(value, dict):
        return {k: display_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [display_copy(v) for v in value]
    return value
