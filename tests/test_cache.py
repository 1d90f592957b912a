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


def test_a_warm_run_reuses_the_export_and_a_corrupt_one_is_redone(tmp_path, monkeypatch):
    """torch's export is most of a warm run: its MLIR is kept under a key of everything it depends on."""
    from suite.runner import Runner, RunOptions, export_key
    from targets import get_target
    from workloads.layer import LayerConfig
    from workloads.workload import Workload
    cache = CompileCache(tmp_path)
    w = Workload(LayerConfig(cin=2, cout=2, h=5, w=5, k=3, r=2), "D-SP", "TDC")
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-sync", verify_only=True), cache)
    first = runner.export(w)
    assert export_key(w, 0) != export_key(w, 1)                  # the seed is part of what defines it

    def no_export(self, seed):
        raise AssertionError("exported again")
    monkeypatch.setattr(Workload, "lowering", no_export)
    assert runner.export(w) == first                              # from the cache, no torch export
    (entry,) = (tmp_path / "exports").glob("*.json")
    import json
    doc = json.loads(entry.read_text())
    doc["mlir"] = doc["mlir"][:-20] + "garbage"                   # a damaged entry
    entry.write_text(json.dumps(doc))
    with __import__("pytest").raises(Exception, match="export"):
        runner.export(w)                                          # not trusted: it exports again (here: refused)
    monkeypatch.undo()
    assert runner.export(w) == first
