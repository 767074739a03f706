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
