import os
from pathlib import Path

import pytest

from suite.cache import CompileCache


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory) -> Path:
    """One compile-cache folder for the whole session, shared by the pytest-xdist workers too: the
    same small modules are built by many tests, and the cache's writes are atomic. Tests of the
    cache itself use their own folders."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                     # the workers' base folders share this parent
    path = root / "shared-compile-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def cache(shared_cache_dir) -> CompileCache:
    """One compile cache for the whole test session (modules are shared between tests)."""
    return CompileCache(shared_cache_dir)


@pytest.fixture(scope="session", autouse=True)
def _no_user_cache(shared_cache_dir):
    """A test that names no --cache-dir compiles into the session's folder, never the user's cache."""
    before = os.environ.get("SUITE_CACHE_DIR")
    os.environ["SUITE_CACHE_DIR"] = str(shared_cache_dir)
    yield
    if before is None:
        os.environ.pop("SUITE_CACHE_DIR", None)
    else:
        os.environ["SUITE_CACHE_DIR"] = before
