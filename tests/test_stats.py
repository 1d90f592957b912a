import math

import pytest

from suite.stats import kept_samples, settle, summarize


def test_summary_of_known_samples():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0])
    assert s["n"] == 10 and s["median"] == 5.5 and s["min"] == 1.0 and s["max"] == 100.0
    assert s["q1"] == 3.25 and s["q3"] == 7.75 and s["iqr"] == 4.5
    assert s["p90"] == pytest.approx(18.1)
    assert s["cv"] == pytest.approx(s["stdev"] / s["mean"])


def test_one_sample_and_no_sample():
    s = summarize([2.5])
    assert s["median"] == 2.5 and s["iqr"] == 0 and s["stdev"] == 0
    with pytest.raises(ValueError):
        summarize([])
    assert math.isnan(summarize([0.0, 0.0])["cv"])


def test_settle_leaves_out_the_rounds_a_slow_phase_reached():
    samples = [1.0, 1.1, 1.0, 2.0, 2.2, 2.1, 1.05, 0.95, 1.2, 1.3]     # rounds [3, 3, 4]: the second at 2x
    kept, out = settle(samples, [3, 3, 4], 1.3)
    assert out == [1] and kept == samples[:3] + samples[6:]
    assert kept_samples(samples, [3, 3, 4], out) == kept                # a record's choice, read back
    # rounds within the ratio of the fastest are all kept, however many
    assert settle(samples[:3] + samples[6:], [3, 4], 1.3) == (samples[:3] + samples[6:], [])
    # no rounds, one round, or rounds that do not add up to the samples: every sample
    assert settle(samples, [], 1.3) == (samples, []) and settle(samples, [10], 1.3) == (samples, [])
    assert settle(samples, [3, 3], 1.3) == (samples, []) and kept_samples(samples, [3, 3], [1]) == samples
