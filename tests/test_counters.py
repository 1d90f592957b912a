"""Counter collectors, real: static bytes from a real compile, perf's unavailable path on PMU-less
machines, and the Nsight Compute CSV parser on a stored sample (labelled as synthetic)."""
from pathlib import Path

import pytest

from suite.runner import Runner, RunOptions
from suite.selection import resolve_collectors
from targets import get_target
from targets.collectors import COLLECTORS, SOURCES
from targets.collectors.ncu import parse_ncu_csv
from targets.collectors.perf import parse_perf_csv
from workloads.layer import LayerConfig
from workloads.workload import expand

LAYER = LayerConfig(cin=4, cout=3, h=12, w=10, k=3, r=2, name="counters")


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    from suite.cache import CompileCache
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-sync", repetitions=9, min_time_s=0.001,
                               collectors=("iree-static",)), CompileCache(tmp_path_factory.mktemp("cache")))
    return runner.run(expand([LAYER], ["C-SP", "D-SP", "C-BL"], ["REVD2"]))


def values(res, name, dispatch="any"):
    return [c["value"] for c in res.counters if c["name"] == name and (dispatch == "any" or c["dispatch"] == dispatch)]


def test_static_bytes_are_the_sum_of_the_dispatch_bindings(counted):
    for res in counted:
        assert res.status == "ok" and not res.counter_errors
        assert all(c["source"] == "static" and c["estimate"] is False for c in res.counters)
        per_dispatch_read = values(res, "dispatch_bytes_read")
        assert len(per_dispatch_read) == values(res, "executables", None)[0] >= 1
        assert values(res, "bytes_read", None) == [sum(per_dispatch_read)]
        assert values(res, "bytes_written", None) == [sum(values(res, "dispatch_bytes_written"))]


def test_static_writes_cover_the_output_tensor(counted):
    out_bytes = 4 * LAYER.batch * LAYER.cout * LAYER.out_hw("D-SP")[0] * LAYER.out_hw("D-SP")[1]
    revd2 = counted[1]
    # REVD2 is one contraction writing every output pixel once: some dispatch writes exactly the output
    assert out_bytes in values(revd2, "dispatch_bytes_written")
    assert values(revd2, "bytes_written", None)[0] >= out_bytes
    # C-SP writes its conv output and then the shuffled copy: at least twice the output
    assert values(counted[0], "bytes_written", None)[0] >= 2 * out_bytes


def test_a_dispatch_reading_several_tensors_of_one_binding_counts_each(tmp_path):
    """IREE packs a call's transient tensors into one buffer: D-NN REVD's last tap dispatch sums the
    three partial products before it, each a subspan of one binding at its own offset."""
    from suite.cache import CompileCache
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-sync", repetitions=9, min_time_s=0.001,
                               collectors=("iree-static",)), CompileCache(tmp_path))
    (res,) = runner.run(expand([LAYER], ["D-NN"], ["REVD"]))
    assert res.status == "ok", res.reason
    taps = [c["dispatch"] for c in res.counters if c["name"] == "dispatch_bytes_written" and "matmul_like" in c["dispatch"]]
    written = {d: values(res, "dispatch_bytes_written", d)[0] for d in taps}
    read = {d: values(res, "dispatch_bytes_read", d)[0] for d in taps}
    assert len(taps) == 4 and len(set(written.values())) == 1        # (Kd / r)^2 tap groups, one output each
    summing = max(taps, key=read.get)
    assert read[summing] > 3 * written[summing]                       # its own input and three partial outputs


def test_perf_says_clearly_whether_it_can_count_here():
    a = COLLECTORS["perf"].availability()
    assert a.reason
    use, notes = resolve_collectors("perf")
    assert notes["perf"]["available"] == a.usable and notes["perf"]["used"] == a.usable
    if not a.usable:                                       # these VMs: no PMU, every HW event <not supported>
        assert use == [] and ("PMU" in a.reason or "not installed" in a.reason or "failed" in a.reason)


def test_perf_csv_parser_scales_and_marks_multiplexed_counts():
    text = "12345,,LLC-load-misses,2000000,50.00,,\n<not supported>,,LLC-store-misses,0,100.00,,\n"
    assert parse_perf_csv(text) == {"LLC-load-misses": (12345.0, 0.5)}


def test_ncu_csv_parser_on_a_stored_sample():
    text = (Path(__file__).parent / "data" / "ncu_sample.csv").read_text()
    assert "SYNTHETIC SAMPLE" in text                      # the sample says what it is
    rows = parse_ncu_csv(text)
    assert [(r["metric"].split("__")[1], r["bytes"]) for r in rows] == [
        ("bytes_read.sum", 2084.5e6), ("bytes_write.sum", pytest.approx(5.56e6)), ("bytes_read.sum", 5558400.0),
        ("bytes_write.sum", 5558400.0)]


def test_every_collector_declares_a_known_source():
    for c in COLLECTORS.values():
        assert c.source in SOURCES and c.availability().reason


def test_cachegrind_simulated_writes_match_the_output_tensor(tmp_path):
    from suite.cache import CompileCache
    if not COLLECTORS["cachegrind"].availability().usable:
        pytest.skip(f"cachegrind: {COLLECTORS['cachegrind'].availability().reason}")
    layer = LayerConfig(cin=2, cout=2, h=256, w=256, k=3, r=2)          # 2 MiB output: twice the A72's L2
    out_bytes = 4 * 2 * 512 * 512
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True, collectors=("cachegrind",)),
                    CompileCache(tmp_path))
    csp, revd2 = runner.run(expand([layer], ["C-SP", "D-SP"], ["REVD2"]))
    for res in (csp, revd2):
        assert res.status == "ok" and not res.counter_errors, res.counter_errors
        assert all(c["source"] == "simulated" and c["collector"] == "cachegrind" for c in res.counters)
        per_dispatch = [c["value"] for c in res.counters if c["name"] == "sim_dram_bytes_written" and c["dispatch"]]
        assert per_dispatch and values(res, "sim_dram_bytes_written", None) == [sum(per_dispatch)]
    written = values(revd2, "sim_dram_bytes_written", None)[0]
    # REVD2 writes each output pixel once: at least the output, and within 10% of it (stated factor)
    assert out_bytes <= written <= 1.10 * out_bytes
    # C-SP writes its conv output and then the shuffled copy: about twice
    assert values(csp, "sim_dram_bytes_written", None)[0] >= 1.9 * out_bytes


def test_the_dispatches_that_only_move_data_and_the_initializers_are_counted_apart(counted):
    """movement_bytes: the bytes bound by a call's dispatches that IREE names after a data-moving root
    op (C-SP's pixel shuffle, C-BL's resize), which the model charges after its roofs; the
    initializers' executables, which run once at load, are counted so the model leaves them out."""
    from targets.collectors.iree_static import moves_data_only
    assert moves_data_only("main$async_dispatch_2_transpose_63x128x3x2x2_f32")
    assert moves_data_only("main$async_dispatch_0_slow_memcpy")
    assert moves_data_only("main$async_dispatch_0_elementwise_broadcast_3x256x256_i64xi64xf32")
    assert not moves_data_only("main$async_dispatch_1_conv_3x256x256x3x3x3_f32")
    assert not moves_data_only("main$async_dispatch_1_matmul_like_3x129x2x129x2x3_f32")
    assert not moves_data_only("revd2_hw_kernel")
    c_sp, revd2, c_bl = counted
    for res in counted:
        per_call = {c["dispatch"]: 0 for c in res.counters if c["dispatch"] and not c["dispatch"].startswith("_init")}
        for c in res.counters:
            if c["dispatch"] in per_call and c["name"] in ("dispatch_bytes_read", "dispatch_bytes_written"):
                per_call[c["dispatch"]] += c["value"]
        assert values(res, "movement_bytes", None) == [sum(v for d, v in per_call.items() if moves_data_only(d))]
        inits = {c["dispatch"] for c in res.counters if (c["dispatch"] or "").startswith("_initializer")}
        assert values(res, "initializer_dispatches", None) == [len(inits)]
    out_bytes = 4 * LAYER.batch * LAYER.cout * LAYER.out_hw("C-SP")[0] * LAYER.out_hw("C-SP")[1]
    assert values(c_sp, "movement_bytes", None)[0] >= out_bytes          # the shuffle writes the output
    assert 0 < values(c_bl, "movement_bytes", None)[0] < values(c_bl, "bytes_read", None)[0] + values(
        c_bl, "bytes_written", None)[0]                                   # the resize; the conv is compute


def test_static_summary_keeps_each_dispatchs_lowering_choice(counted):
    import json
    from suite.cache import CompileCache
    from targets.collectors.iree_static import describe_lowering
    c_sp = counted[0]
    cache_root = Path(c_sp.commands["compile"].split()[1]).parent.parent      # <cache>/modules/<key>.mlir
    summary = json.loads(CompileCache(cache_root).static_path(c_sp.module_key).read_text())
    names = {d["name"] for d in summary["dispatches"]}
    assert {d["name"] for d in summary["lowering"]} == names                   # one lowering per executable
    conv = next(d for d in summary["lowering"] if "conv" in d["name"])
    assert conv["pipeline"] and any(conv["tiles"]["vector_reduction"]) and len(conv["tiles"]["distribution"]) >= 6
    assert describe_lowering(conv).startswith(conv["name"] + ": " + conv["pipeline"])


def test_a_conv_vectorised_along_its_output_width_says_how_many_lanes_it_keeps_in_flight(cache):
    """IREE 3.13 vectorises an NCHW conv along its output width (8 lanes), one sum per output channel
    it unrolls: iree-static reads that off the compiled code (its lowering's vector tile) and counts
    the lanes in flight, which the model charges for the FMA latency they leave unhidden. The same
    conv converted to channels-last is vectorised along its channels: no such count."""
    from suite.build import build_module, static_summary
    from suite.calibrate import _nchw_conv_mlir
    from targets.collectors.iree_static import spatial_conv_tile, values_from_summary
    target = get_target("llvm-cpu")
    mlir, _, _ = _nchw_conv_mlir(3, 3, 6, 32)
    nchw = static_summary(cache, build_module(cache, mlir, "none", target.flags("default"), 600), 600)
    name, tile = spatial_conv_tile(nchw)
    assert "conv_3x32x32x3x6x6" in name and tile["spatial"] and tile["inner"] == 32 and tile["outputs"] == 3 * 32 * 32
    assert tile["width"] in (4, 8, 16) and tile["in_flight"] % tile["width"] == 0
    (count,) = [c for c in values_from_summary(nchw) if c.name == "vector_lanes_in_flight"]
    assert count.value == tile["in_flight"] and count.dispatch == name and count.source == "static"
    assert not count.estimate and "output-width lanes" in count.note
    nhwc = static_summary(cache, build_module(cache, mlir, "none", target.flags("channels-last"), 600), 600)
    assert spatial_conv_tile(nhwc) is None
    assert not [c for c in values_from_summary(nhwc) if c.name == "vector_lanes_in_flight"]
    assert all(not d["vector"]["spatial"] for d in nhwc["lowering"] if d.get("vector"))


def test_cpu_samples_split_a_calls_cpu_time_over_its_dispatches(tmp_path):
    """perf's cpu-clock is a timer, so this runs in PMU-less VMs too; skipped only without perf."""
    from suite.cache import CompileCache
    from targets.collectors.cpu_samples import cpu_split, short_dispatch
    a = COLLECTORS["cpu-samples"].availability()
    if not a.usable:
        pytest.skip(f"cpu-samples: {a.reason}")
    layer = LayerConfig(cin=8, cout=2, h=96, w=96, k=3, r=2)
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", verify_only=True,
                               collectors=("iree-static", "cpu-samples")), CompileCache(tmp_path))
    (res,) = runner.run(expand([layer], ["D-SP"], ["TDCF"]))
    assert res.status == "ok" and not res.counter_errors, res.counter_errors
    mine = [c for c in res.counters if c["collector"] == "cpu-samples"]
    assert all(c["source"] == "hardware" for c in mine)
    shares = {c["dispatch"]: c["value"] for c in mine if c["name"] == "cpu_share"}
    assert abs(sum(shares.values()) - 1) < 1e-6 and all(c["estimate"] for c in mine if c["dispatch"])
    # the samples land in this module's own dispatches, by their compiled names, and the conv leads them
    dispatches = {c["dispatch"] for c in res.counters if c["name"] == "dispatch_bytes_read"}     # iree-static's
    sampled = {d for d in shares if d.startswith("main$")}
    assert sampled and sampled <= dispatches, (sampled, dispatches)
    conv = next(d for d in sampled if "conv" in d)
    assert shares[conv] == max(shares[d] for d in sampled)
    total = values(res, "cpu_ms", None)[0]
    assert total > 0 and abs(sum(values(res, "cpu_ms")) - 2 * total) < 1e-6 * total   # parts sum to the whole
    assert short_dispatch(conv) in cpu_split(res.to_json()["counters"])


def test_dispatch_times_are_the_timed_modules_own_dispatches(tmp_path):
    """dispatch-times reads each dispatch's wall time from the runtime, on the very module timed: the
    same dispatches iree-static reads off it, every one timed, their sum and the call beside them; the
    verdict then names the dispatch that takes the most."""
    from suite.cache import CompileCache
    from suite.rows import Row
    from suite.verdict import _top_dispatch
    runner = Runner(RunOptions(get_target("llvm-cpu"), "local-task", repetitions=9, min_time_s=0.001,
                               collectors=("iree-static", "dispatch-times")), CompileCache(tmp_path))
    (res,) = runner.run(expand([LAYER], ["D-NN"], ["STDD"]))
    assert res.status == "ok" and not res.counter_errors, res.counter_errors
    timed = {c["dispatch"]: c["value"] for c in res.counters if c["name"] == "dispatch_ms"}
    static = {c["dispatch"] for c in res.counters if c["name"] == "dispatch_bytes_read"}
    assert set(timed) == static and len(timed) >= 2 and min(timed.values()) > 0
    own = [c for c in res.counters if c["collector"] == "dispatch-times"]
    assert all(c["source"] == "hardware" and c["estimate"] is False for c in own)
    assert values(res, "dispatches_ms", None) == [pytest.approx(sum(timed.values()))]
    assert values(res, "call_ms", None)[0] > 0
    slowest = max(timed, key=timed.get)
    assert _top_dispatch(Row({"counters": res.counters})).startswith(f"{slowest} (")
