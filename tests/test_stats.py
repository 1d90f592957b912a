import math

import pytest

from suite.stats import summarize


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
