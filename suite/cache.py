"""Compiled-module cache, keyed by a hash of the MLIR, the compile flags and the compiler version.

Each entry is ``<key>.vmfb`` with a ``<key>.sha256`` beside it, both written atomically; an entry
whose bytes do not match its digest (a crash mid-write, disk corruption) is discarded and rebuilt.
The MLIR is kept as ``<key>.mlir`` so that every recorded command can be re-run by hand.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path



def default_cache_dir() -> Path:
    env = os.environ.get("SUITE_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "upsampling-suite"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())          # mkstemp makes 0600; a record is for everyone to read
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CompileCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else default_cache_dir()
        self.enabled = enabled

    @staticmethod
    def key(mlir: str, flags: list[str], compiler_version: str) -> str:
        h = hashlib.sha256()
        for part in (compiler_version, "\0".join(flags), mlir):
            h.update(part.encode())
            h.update(b"\0\0")
        return h.hexdigest()[:32]

    def vmfb_path(self, key: str) -> Path:
        return self.root / "modules" / f"{key}.vmfb"

    def static_path(self, key: str) -> Path:
        return self.root / "modules" / f"{key}.static.json"

    def mlir_path(self, key: str) -> Path:
        return self.root / "modules" / f"{key}.mlir"

    def lookup(self, key: str) -> Path | None:
        """The cached module, or None (also when the entry is half-written or corrupt)."""
        if not self.enabled:
            return None
        vmfb, digest = self.vmfb_path(key), self.vmfb_path(key).with_suffix(".sha256")
        try:
            data, expected = vmfb.read_bytes(), digest.read_text().strip()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != expected:
            vmfb.unlink(missing_ok=True)
            digest.unlink(missing_ok=True)
            return None
        return vmfb

    def store(self, key: str, vmfb_bytes: bytes) -> Path:
        vmfb = self.vmfb_path(key)
        atomic_write(vmfb, vmfb_bytes)
        atomic_write(vmfb.with_suffix(".sha256"), hashlib.sha256(vmfb_bytes).hexdigest() + "\n")
        return vmfb

    def input_file(self, array) -> Path:
        """Save an input tensor under a content hash (shared by every workload of a layer)."""
        import numpy as np                 # lazily: the CLI's start-up imports this module
        array = np.ascontiguousarray(array)
        digest = _array_digest(array)
        path = self.root / "inputs" / f"{digest}.npy"
        if path.exists() and not _holds(path, digest):
            path.unlink()                   # the name is its content's hash: flipped bytes are rewritten
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
            with os.fdopen(fd, "wb") as f:
                np.save(f, array)
            os.replace(tmp, path)
        return path

    def load_export(self, key: str) -> tuple[str, str, str | None] | None:
        """A workload's exported (MLIR, input type, tuning spec), if stored and intact."""
        import json
        path = self.root / "exports" / f"{key}.json"
        try:
            doc = json.loads(path.read_text())
            if hashlib.sha256(doc["mlir"].encode()).hexdigest() != doc["sha256"]:
                raise ValueError("digest mismatch")
            return doc["mlir"], doc["input_type"], doc["tuning_spec"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)                 # corrupt: export again
            return None

    def store_export(self, key: str, mlir: str, input_type: str, tuning_spec: str | None) -> None:
        import json
        atomic_write(self.root / "exports" / f"{key}.json", json.dumps(
            {"mlir": mlir, "input_type": input_type, "tuning_spec": tuning_spec,
             "sha256": hashlib.sha256(mlir.encode()).hexdigest()}))

    def load_blob(self, kind: str, key: str) -> tuple[bytes, dict] | None:
        """A stored build product of another tool (a peer runtime's program) and its metadata, if
        stored and intact; a corrupt one is removed (built again)."""
        import json
        if not self.enabled:
            return None
        data_path, meta_path = self.root / kind / f"{key}.bin", self.root / kind / f"{key}.json"
        try:
            data, meta = data_path.read_bytes(), json.loads(meta_path.read_text())
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("digest mismatch")
            return data, meta["meta"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            data_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def store_blob(self, kind: str, key: str, data: bytes, meta: dict) -> None:
        import json
        if not self.enabled:
            return
        atomic_write(self.root / kind / f"{key}.bin", data)
        atomic_write(self.root / kind / f"{key}.json", json.dumps({"sha256": hashlib.sha256(data).hexdigest(),
                                                                   "meta": meta}))

    def text_file(self, text: str, suffix: str) -> Path:
        """Save a text (a tuning spec) under its content hash, so a path names one content."""
        path = self.root / "texts" / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}{suffix}"
        if not path.exists():
            atomic_write(path, text)
        return path


def _array_digest(array) -> str:
    return hashlib.sha256(array.tobytes() + str((array.shape, array.dtype.str)).encode()).hexdigest()[:24]


def _holds(path: Path, digest: str) -> bool:
    """Whether a cached input still holds the array its name is the hash of."""
    import numpy as np
    try:
        return _array_digest(np.ascontiguousarray(np.load(path, allow_pickle=False))) == digest
    except (OSError, ValueError):
        return False
