"""--sched: the timed processes' scheduling policy, applied for real (chrt for IREE's tools, every
thread of the peers' process while it times), decided once per run and recorded."""
import os

import pytest

from suite import sched
from suite.errors import UserError
from suite.run import Run, Storage, make_plan

needs_fifo = pytest.mark.skipif(not sched.fifo_permitted(), reason="this process may not set SCHED_FIFO")


def test_auto_is_fifo_exactly_where_it_is_permitted_and_unknown_names_are_refused():
    assert sched.resolve("auto") == ("fifo" if sched.fifo_permitted() else "normal")
    assert sched.resolve("normal") == "normal" and sched.command_prefix("normal") == ()
    with pytest.raises(UserError, match="unknown policy"):
        sched.resolve("realtime")


def test_fifo_where_it_is_not_permitted_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(sched, "fifo_permitted", lambda: False)
    with pytest.raises(UserError, match="may not set SCHED_FIFO"):
        sched.resolve("fifo")
    assert sched.resolve("auto") == "normal"


@needs_fifo
def test_the_peers_threads_time_under_fifo_and_go_back_after():
    import threading
    started = threading.Event()
    stop = threading.Event()

    def idle():
        started.set()
        stop.wait()
    t = threading.Thread(target=idle)
    t.start()
    started.wait()
    try:
        tids = [int(x) for x in os.listdir("/proc/self/task")]
        assert len(tids) >= 2 and all(os.sched_getscheduler(i) == os.SCHED_OTHER for i in tids)
        with sched.this_process("fifo"):
            assert all(os.sched_getscheduler(i) == os.SCHED_FIFO for i in tids)     # the thread pool too
        assert all(os.sched_getscheduler(i) == os.SCHED_OTHER for i in tids)
    finally:
        stop.set()
        t.join()


@needs_fifo
def test_a_fifo_run_times_iree_behind_chrt_and_records_it(tmp_path, cache):
    plan = make_plan(layers=["cin=2,cout=2,h=8,w=8,k=3,r=2"], methods="C-SP", tune="none", profile="none",
                     counters="none", sched="auto")
    assert plan.sched == "fifo"
    storage = Storage(results_dir=tmp_path / "runs", cache_dir=cache.root, tuning_dir=tmp_path / "tuning")
    run = Run(plan, storage)
    run.execute()
    run.finish()
    record = run.record
    (row,) = record["workloads"]
    assert row["status"] == "ok" and record["settings"]["sched"] == "fifo"
    assert row["commands"]["time"].startswith("chrt -f 1 ") and row["commands"]["verify"].startswith("chrt -f 1 ")
