"""Exact percentiles and the seeded bootstrap, checked against answers worked out by hand."""

import numpy as np
import pytest

from jarvis_diag.report import metrics as mx


def test_nearest_rank_textbook_example():
    # the classic nearest-rank example: {15, 20, 35, 40, 50}
    values = [50, 15, 40, 20, 35]
    assert mx.percentile(values, 5) == 15  # rank ceil(0.25) = 1
    assert mx.percentile(values, 30) == 20  # rank ceil(1.5) = 2
    assert mx.percentile(values, 40) == 20  # rank ceil(2.0) = 2
    assert mx.percentile(values, 50) == 35  # rank ceil(2.5) = 3
    assert mx.percentile(values, 100) == 50


def test_summary_of_1_to_20_by_hand():
    s = mx.summarize(list(range(20, 0, -1)))  # 1..20, given unsorted
    # p50: rank 10; p90: rank 18; p95: rank 19 (95/100*20 = 19 exactly, no float creep); p99: rank 20
    assert s.percentiles == {50: 10.0, 90: 18.0, 95: 19.0, 99: 20.0}
    assert s.max == 20.0 and s.mean == 10.5 and s.n == 20
    assert not s.small_n
    assert s.unresolved == ["p99"]  # 20 * 1% < 1 case above p99: it is the max


def test_small_n_and_unresolved():
    s = mx.summarize([3.0, 1.0, 2.0])
    assert s.small_n
    assert s.percentiles[50] == 2.0 and s.percentiles[90] == 3.0
    assert s.unresolved == ["p90", "p95", "p99"]
    assert mx.summarize(np.arange(1, 101)).unresolved == []
    assert mx.summarize(np.arange(1, 101)).percentiles[99] == 99.0


def test_empty_and_nan():
    assert mx.summarize([]).n == 0
    assert mx.summarize([]).to_json_dict()["p50"] is None
    with pytest.raises(ValueError):
        mx.summarize([1.0, float("nan")])
    with pytest.raises(ValueError):
        mx.nearest_rank(0, 50)


def test_stat_names():
    s = mx.summarize([1, 2, 3, 4])
    assert s.stat("p50") == 2 and s.stat("max") == 4 and s.stat("n") == 4 and s.stat("mean") == 2.5
    with pytest.raises(KeyError):
        s.stat("p42")


def test_known_shift_is_found_with_its_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(100, 10, 400)
    cand = rng.normal(100, 10, 400) + 20  # the candidate is 20 ms slower
    d = mx.compare(base, cand, "p50", resamples=1000, seed=7)
    assert d.verdict == "higher"
    assert d.ci_low < 20 < d.ci_high
    assert d.ci_low > 10 and d.ci_high < 30
    assert abs(d.diff - 20) < 5
    faster = mx.compare(cand, base, "p50", resamples=1000, seed=7)
    assert faster.verdict == "lower"


def test_same_distribution_is_no_clear_difference():
    rng = np.random.default_rng(2)
    a, b = rng.normal(50, 5, 300), rng.normal(50, 5, 300)
    d = mx.compare(a, b, resamples=1000, seed=0)
    assert d.verdict == "no clear difference"
    assert d.ci_low < 0 < d.ci_high


def test_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    a, b = rng.exponential(30, 200), rng.exponential(35, 200)
    one = mx.compare(a, b, resamples=500, seed=11)
    two = mx.compare(a, b, resamples=500, seed=11)
    other = mx.compare(a, b, resamples=500, seed=12)
    assert one == two
    assert (one.ci_low, one.ci_high) != (other.ci_low, other.ci_high)


def test_mean_statistic_for_counts():
    base = [0] * 100
    cand = [0] * 90 + [1] * 10  # 0.1 lost per cycle more
    d = mx.compare(base, cand, "mean", resamples=1000, seed=0)
    assert d.diff == pytest.approx(0.1)
    assert d.verdict == "higher" and d.ci_low > 0
    assert d.ci_high <= 0.2


def test_not_enough_data():
    d = mx.compare([1.0], [2.0, 3.0])
    assert d.verdict == "not enough data" and d.ci_low is None and d.diff == 1.0
    assert mx.compare([], [1.0, 2.0]).diff is None


def test_bootstrap_shortcut_matches_plain_resampling():
    # the median/mean of each resample is drawn from its exact distribution; compare that
    # with building every resample by hand
    rng = np.random.default_rng(5)
    values = rng.exponential(30, 301)
    k = mx.nearest_rank(values.size, 50)
    fast = mx._bootstrap_stats(values, "p50", 8000, np.random.default_rng(1))
    draw = np.random.default_rng(2)
    plain = np.array([np.partition(values[draw.integers(0, 301, 301)], k)[k] for _ in range(8000)])
    for q in (2.5, 50, 97.5):
        assert abs(np.percentile(fast, q) - np.percentile(plain, q)) < 0.6  # within Monte Carlo error
    counts = np.array([0.0] * 260 + [1.0] * 30 + [3.0] * 11)
    fast = mx._bootstrap_stats(counts, "mean", 8000, np.random.default_rng(1))
    plain = np.array([counts[draw.integers(0, 301, 301)].mean() for _ in range(8000)])
    for q in (2.5, 50, 97.5):
        assert abs(np.percentile(fast, q) - np.percentile(plain, q)) < 0.01


# 5 reconnects a side, 3 re-attaches each: the re-attaches of one reconnect wait on the same
# socket and land close together
_BASE = [9.69, 9.51, 9.56, 6.85, 6.8, 7.03, 11.62, 11.49, 11.52, 8.61, 8.84, 8.6, 4.71, 4.75, 4.69]
_CAND = [11.43, 11.15, 11.27, 11.57, 11.62, 11.44, 12.5, 12.31, 12.32, 8.21, 8.23, 8.36, 13.95, 13.92, 13.97]
_UNITS = [i for i in range(5) for _ in range(3)]


def test_cases_of_one_unit_are_resampled_together():
    # taken as 15 independent cases a side the shift looks clear; it rests on 5 reconnects
    flat = mx.compare(_BASE, _CAND)
    units = mx.compare(_BASE, _CAND, baseline_units=_UNITS, candidate_units=_UNITS)
    assert flat.verdict == "higher" and (flat.baseline_units, flat.candidate_units) == (15, 15)
    assert units.verdict == "no clear difference" and (units.baseline_units, units.candidate_units) == (5, 5)
    assert units.diff == flat.diff and units.ci_low < 0 < units.ci_high
    assert units.to_json_dict()["units"] == [5, 5]
    # a unit of None is a case of its own; all the cases of one unit are too few to compare
    assert mx.compare(_BASE, _CAND, baseline_units=[None] * 15).baseline_units == 15
    few = mx.compare(_BASE[:3], _CAND, baseline_units=["one"] * 3, candidate_units=_UNITS)
    assert few.verdict == "not enough data" and few.ci_low is None and few.baseline_units == 1


def test_the_unit_bootstrap_says_a_clear_difference_rarely_when_there_is_none():
    # both sides drawn alike: 6 reconnects of 3 correlated re-attaches. A 95% interval that
    # takes the cases as independent calls a difference far more often than 1 time in 20
    rng = np.random.default_rng(11)
    wrong = {"flat": 0, "units": 0}
    units = [i for i in range(6) for _ in range(3)]
    for trial in range(200):
        sides = [[m + rng.normal(0, 0.2) for m in rng.normal(10, 3, 6) for _ in range(3)] for _ in range(2)]
        wrong["flat"] += mx.compare(*sides, seed=trial).verdict != "no clear difference"
        wrong["units"] += mx.compare(*sides, seed=trial, baseline_units=units,
                                     candidate_units=units).verdict != "no clear difference"
    assert wrong["units"] <= 20 < wrong["flat"], wrong


def test_the_unit_bootstrap_matches_plain_resampling_of_units():
    # drawn as how often each unit is taken; compare with building every resample by hand
    rng = np.random.default_rng(4)
    k = 200
    codes = np.repeat(np.arange(k), rng.integers(1, 5, k))
    # (a unit's values spread as widely as the units: many have values on both sides of a window)
    values = rng.normal(100, 10, k)[codes] + rng.normal(0, 10, codes.size)
    draw = np.random.default_rng(2)
    members = [values[codes == u] for u in range(k)]
    plain = np.array([mx.percentile(np.concatenate([members[u] for u in draw.integers(0, k, k)]), 50)
                      for _ in range(4000)])
    # (all the values in the window the median is looked for in, and a third of them: the
    # units outside drawn by groups, some with a value on each side of it)
    for window in (None, codes.size // 3):
        fast = mx._bootstrap_units(values, codes, k, "p50", 4000, np.random.default_rng(1), window=window)
        for q in (2.5, 50, 97.5):
            assert abs(np.percentile(fast, q) - np.percentile(plain, q)) < 0.5, window  # within Monte Carlo error
    fast = mx._bootstrap_units(values, codes, k, "mean", 4000, np.random.default_rng(1))
    plain = np.array([np.concatenate([members[u] for u in draw.integers(0, k, k)]).mean() for _ in range(4000)])
    for q in (2.5, 50, 97.5):
        assert abs(np.percentile(fast, q) - np.percentile(plain, q)) < 0.3


def test_a_time_needs_five_units_a_side_and_a_count_two():
    # two cycles a side gave "slower" from an interval over 3 possible resamples
    assert mx.compare([1.0, 2.0, 3.0, 4.0], [11.0, 12.0, 13.0, 14.0]).verdict == "not enough data"
    assert mx.compare([1.0, 2.0, 3.0, 4.0, 5.0], [11.0, 12.0, 13.0, 14.0, 15.0]).verdict == "higher"
    assert mx.compare([1, 1], [0, 0], "mean", min_units=mx.MIN_UNITS_OF_COUNTS).verdict == "lower"


def test_the_unit_bootstrap_medians_do_not_depend_on_the_window_they_are_looked_for_in():
    # the median of a resample is looked for near the middle of the sorted values, and over
    # all of them when it falls outside: a window of 3 values sends most resamples there
    rng = np.random.default_rng(8)
    k = 300
    codes = np.repeat(np.arange(k), rng.integers(1, 4, k))
    values = rng.normal(50, 10, k)[codes] + rng.normal(0, 1, codes.size)
    wide = mx._bootstrap_units(values, codes, k, "p50", 4000, np.random.default_rng(3))
    narrow = mx._bootstrap_units(values, codes, k, "p50", 4000, np.random.default_rng(4), window=3)
    for q in (2.5, 50, 97.5):
        assert abs(np.percentile(wide, q) - np.percentile(narrow, q)) < 0.6  # within Monte Carlo error
