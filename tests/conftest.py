import pytest

from suite.cache import CompileCache


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> CompileCache:
    """One compile cache for the whole test session (modules are shared between tests)."""
    return CompileCache(tmp_path_factory.mktemp("cache"))
