"""The per-layer verdict: bootstrap intervals that cover the true ratio, the best row of each side,
and the plain sentence, on synthetic samples with a known ratio (the statistics are pure)."""
import numpy as np
import pytest

from suite.verdict import base_layer, ratio_ci, verdicts


def _row(layer, method, algorithm, samples, preset="default", name="espcn", model_t=None, static=None):
    r = {"id": f"{layer}/{method}" + (f"/{algorithm}" if algorithm else ""), "layer": layer, "layer_name": name,
         "method": method, "algorithm": algorithm, "preset": preset, "status": "ok",
         "samples_ms": list(map(float, samples)), "counters": []}
    if model_t is not None:
        r["model"] = {"t_ms": model_t, "bytes": model_t * 1e6}
    if static is not None:
        r["counters"] = [{"collector": "iree-static", "name": n, "value": static / 2, "dispatch": None}
                         for n in ("bytes_read", "bytes_written")]
    return r


def test_interval_covers_the_true_ratio_at_about_its_confidence():
    rng = np.random.default_rng(1)
    covered, trials = 0, 200
    for _ in range(trials):
        deployed = 10.0 * rng.lognormal(0, 0.05, 15)
        trained = 20.0 * rng.lognormal(0, 0.05, 15)              # true ratio of medians: 2.0
        est, low, high = ratio_ci(trained, deployed, n_resamples=1000, seed=int(rng.integers(1 << 30)))
        assert low <= est <= high
        covered += low <= 2.0 <= high
    # a percentile bootstrap of medians from 15 samples is a little narrow; 95% nominal
    assert covered / trials >= 0.85, covered


def test_verdict_picks_the_best_row_of_each_side_across_presets_and_layouts():
    rng = np.random.default_rng(0)
    s = lambda m: m * rng.lognormal(0, 0.02, 12)                      # noqa: E731
    rows = [_row("L", "C-SP", None, s(20), model_t=8.0, static=400),
            _row("L-nhwc-blocked", "C-SP", None, s(10), preset="channels-last", name="espcn-nhwc-blocked",
                 model_t=8.0, static=400),
            _row("L", "D-SP", "REVD2", s(40), model_t=4.0, static=100),
            _row("L", "D-SP", "TDCF", s(5), preset="channels-last", model_t=4.0, static=100),
            _row("L", "C-NN", None, s(10)), _row("L", "D-NN", "TDC", s(10.02)),
            _row("L", "D-NN", "STRD", s(1))]
    rows[-1]["status"] = "wrong"                                  # a wrong row never wins, however fast
    by = {v.deployed: v for v in verdicts(rows)}
    sp, nn = by["D-SP"], by["D-NN"]
    assert sp.layer == "L" and sp.layer_name == "espcn"
    assert sp.trained_row == "C-SP [channels-last] nhwc-blocked" and sp.deployed_row == "D-SP TDCF [channels-last]"
    assert sp.speedup == pytest.approx(2.0, rel=0.05) and sp.ci_low > 1 and sp.outcome == "holds"
    assert sp.model_ratio == pytest.approx(2.0) and sp.static_bytes_ratio == pytest.approx(4.0)
    assert sp.paper_ratio == 2.1 and "the paper reports 2.1x" in sp.sentence
    assert nn.deployed_row == "D-NN TDC" and nn.outcome == "inconclusive" and nn.ci_low < 1 < nn.ci_high
    assert "--counters dispatch-times" in nn.sentence             # no dispatch times collected: says how to get the cause


def test_a_slower_deconvolution_does_not_hold_and_names_its_hot_dispatch():
    rng = np.random.default_rng(2)
    d = _row("M", "D-SP", "TDCF", 30 * rng.lognormal(0, 0.02, 12), name="other")
    d["counters"] = [{"collector": "cpu-samples", "name": "cpu_share", "value": 0.7, "dispatch": "d1 conv_9x3"},
                     {"collector": "cpu-samples", "name": "cpu_share", "value": 0.3, "dispatch": "d0 pad"}]
    (v,) = verdicts([_row("M", "C-SP", None, 10 * rng.lognormal(0, 0.02, 12), name="other"), d])
    assert v.outcome == "does not hold" and v.ci_high < 1 and v.paper_ratio is None
    assert "d1 conv_9x3 (70% of its CPU time)" in v.sentence
    # without CPU samples, the dispatch with the most measured wall time
    d["counters"] = [{"collector": "dispatch-times", "name": "dispatch_ms", "value": 21.0, "dispatch": "d1 conv_9x3"},
                     {"collector": "dispatch-times", "name": "dispatch_ms", "value": 9.0, "dispatch": "d0 pad"}]
    (v,) = verdicts([_row("M", "C-SP", None, 10 * rng.lognormal(0, 0.02, 12), name="other"), d])
    assert "d1 conv_9x3 (21 ms, 70% of its dispatches' wall time)" in v.sentence


def test_layers_without_both_sides_timed_have_no_verdict():
    assert verdicts([_row("N", "C-SP", None, [1, 2, 3])]) == []
    assert base_layer("n1-c3-nhwc-blocked") == "n1-c3" and base_layer("n1-c3-nhwc") == "n1-c3"


def test_a_row_whose_rounds_disagree_is_named_in_its_verdict_and_under_its_table():
    from suite.report import timing_noise, unsettled_rows
    from suite.runner import WorkloadResult
    rng = np.random.default_rng(3)
    steady = _row("P", "C-SP", None, 10 * rng.lognormal(0, 0.02, 10))
    steady["rounds"] = [4, 3, 3]
    phase = 5 * rng.lognormal(0, 0.02, 13)
    phase[4:7] *= 2.0                                  # its second round inside a slow phase of the machine
    res = WorkloadResult(id="P/D-SP/TDCF", layer="P", layer_name="espcn", method="D-SP", algorithm="TDCF",
                         reference="C-SP", status="ok")
    res.take_samples(list(map(float, phase)), [1] * 13, [4, 3, 3, 3])   # ... and its retake did not settle it
    split = res.to_json()
    # the slow round stays in the record, out of the row's statistics and of the samples compared
    assert split["rounds_left_out"] == [1] and split["stats_ms"]["n"] == 10
    kept = np.concatenate([phase[:4], phase[7:]])
    assert split["stats_ms"]["median"] == pytest.approx(np.median(kept))
    (v,) = verdicts([steady, split])
    assert v.outcome == "holds" and v.speedup == pytest.approx(np.median(steady["samples_ms"]) / np.median(kept))
    assert v.sentence.endswith("rounds apart (the slower set aside), so less sure than the interval says: "
                               "D-SP TDCF 2.00x")
    assert unsettled_rows([steady, split]) == f"D-SP TDCF {np.median(kept):.3f} ms (2.00x, 3 of 13 samples set aside)"
    assert "C-SP" not in unsettled_rows([steady, split])
    untimed_in_rounds = _row("P", "D-NN", "TDC", phase)            # no rounds kept (an emulated run)
    assert unsettled_rows([untimed_in_rounds]) == ""
    # and the run's one line on them, under the verdict
    rows = [steady, split, untimed_in_rounds]
    assert timing_noise(rows, []).startswith("timing noise: 1 of 3 IREE rows have rounds over 1.3x apart")
    assert timing_noise(rows[:1], []) is None
