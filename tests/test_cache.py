from suite.cache import CompileCache


def test_corrupt_or_half_written_entries_are_rebuilt_not_loaded(tmp_path):
    cache = CompileCache(tmp_path)
    key = CompileCache.key("module {}", ["--flag"], "3.13")
    assert cache.lookup(key) is None
    path = cache.store(key, b"vmfb bytes")
    assert cache.lookup(key) == path and path.read_bytes() == b"vmfb bytes"
    path.write_bytes(b"vmfb by")                                   # truncated by a crash
    assert cache.lookup(key) is None and not path.exists()
    cache.store(key, b"vmfb bytes")
    path.with_suffix(".sha256").unlink()                           # digest never written
    assert cache.lookup(key) is None


def test_key_changes_with_mlir_flags_and_compiler():
    k = CompileCache.key("m", ["--a"], "1")
    assert k == CompileCache.key("m", ["--a"], "1")
    assert len({k, CompileCache.key("m2", ["--a"], "1"), CompileCache.key("m", ["--b"], "1"),
                CompileCache.key("m", ["--a"], "2")}) == 4


def test_disabled_cache_never_hits(tmp_path):
    cache = CompileCache(tmp_path, enabled=False)
    key = CompileCache.key("m", [], "1")
    cache.store(key, b"x")
    assert cache.lookup(key) is None
