"""One rule for every path the suite writes: checked before any work; a file the suite did not write
in this invocation is never replaced unless the user says --force; names never escape their folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

from suite.errors import UserError

_SYSTEM = ("/proc", "/sys", "/dev")
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def new_file(path: Path | str, what: str, force: bool = False) -> Path:
    """A file path to write later: its folder exists and is writable, it is not a folder or a
    system file, and it does not exist yet (or ``force``)."""
    p = Path(path)
    resolved = p.resolve()
    if any(str(resolved) == s or str(resolved).startswith(s + "/") for s in _SYSTEM):
        raise UserError(f"{what}: {p} is a system file, not a place for the suite's output")
    if p.is_dir():
        raise UserError(f"{what}: {p} is a folder; name a file")
    if p.exists() or p.is_symlink():
        if not p.is_file():
            raise UserError(f"{what}: {p} exists and is not a regular file")
        if not force:
            raise UserError(f"{what}: {p} exists; the suite does not replace files it did not write in this "
                            "run (add --force to replace it)")
    parent = resolved.parent
    if not parent.is_dir():
        raise UserError(f"{what}: the folder {p.parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UserError(f"{what}: the folder {p.parent} is not writable")
    return p


def folder(path: Path | str, what: str, create: bool = True) -> Path:
    """A folder the suite writes into: created if missing, refused if it is a file or not writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{what}: {p} exists and is not a folder")
    if create:
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{what}: cannot create {p}: {e.strerror or e}") from None
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{what}: {p} is not writable")
    return p


def named_file(base: Path, name: str, suffix: str, what: str) -> Path:
    """``base/name+suffix`` for a user-given name that must stay inside ``base``."""
    if not NAME.fullmatch(name) or ".." in name:
        raise UserError(f"{what}: {name!r} is not a plain name (letters, digits, '_', '.', '-'; no path)")
    return Path(base) / f"{name}{suffix}"
