"""Compilation presets: named flag sets per target, composable with '+', each compiled for real."""
import json

import pytest

from suite.errors import UserError
from suite.runner import Runner, RunOptions
from targets import get_target
from workloads.layer import LayerConfig
from workloads.workload import expand

CPU = get_target("llvm-cpu")
NINE = LayerConfig(cin=4, cout=1, h=12, w=12, k=3, r=3, layout="nhwc", name="nine-channels")  # C-SP: 9 outputs


def test_presets_compose_in_order_without_repeating_a_flag():
    both = CPU.preset_flags("channels-last+wide-vectors")
    assert both == CPU.presets["channels-last"] + CPU.presets["wide-vectors"]
    assert CPU.preset_flags("ukernels+data-tiling") == CPU.presets["ukernels"]     # data tiling is in both
    assert CPU.flags("default") == CPU.flags()
    with pytest.raises(UserError, match="no preset 'turbo'.*combine them with"):
        CPU.flags("channels-last+turbo")


def test_every_preset_and_a_combination_compile_and_verify(cache):
    presets = (*CPU.presets, "channels-last+wide-vectors")
    runner = Runner(RunOptions(CPU, "local-task", verify_only=True, presets=presets), cache)
    results = runner.run(expand([NINE], ["C-SP", "D-SP"], ["TDCF"]))
    assert len(results) == 2 * len(presets)
    for r in results:
        assert r.status == "ok", f"{r.id} [{r.preset}]: {r.reason}"
        assert all(f in r.commands["compile"] for f in CPU.preset_flags(r.preset))
        assert r.tuning_spec is None                     # no blocked conv, no spec in the record


def test_wide_vectors_vectorise_nine_output_channels_whole(cache):
    """The reason for the preset, checked on what IREE chose (not on a timing): with 8-float AVX2
    vectors the tiler takes 3 of the 9 channels at a time; told 16, it takes all 9."""
    runner = Runner(RunOptions(CPU, "local-task", verify_only=True, collectors=("iree-static",),
                               presets=("channels-last", "channels-last+wide-vectors")), cache)
    tiles = {}
    for r in runner.run(expand([NINE], ["C-SP"])):
        summary = json.loads(cache.static_path(r.module_key).read_text())
        (conv,) = [d for d in summary["lowering"] if "conv" in d["name"]]
        tiles[r.preset] = conv["tiles"]["vector_common_parallel"]
    assert 9 in tiles["channels-last+wide-vectors"]
    if not _has_avx512():                        # with 16-float registers the default already takes 9
        assert 9 not in tiles["channels-last"]


def _has_avx512() -> bool:
    try:
        return " avx512f" in open("/proc/cpuinfo").read()
    except OSError:
        return False
