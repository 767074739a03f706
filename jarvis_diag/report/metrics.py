"""Exact percentiles, summaries and seeded bootstrap comparisons (pure: numbers in, numbers out).

Percentile method: **nearest rank**. For ``n`` sorted values and a percentile ``q`` in
(0, 100], the value is the one at 1-based rank ``ceil(q / 100 * n)``. It is always one of the
observed values (no interpolation, no binning), so a p95 of 812 ms means a case really took
812 ms. ``max`` is rank ``n``.

A percentile ``q`` is *resolved* only when at least one value lies above its rank
(``n * (1 - q/100) >= 1``): with fewer than 100 values p99 is simply the maximum, with fewer
than 20 so is p95. Unresolved percentiles are listed so that renderers can say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
SMALL_N = 20  # below this a summary is flagged: its tail percentiles are the largest values seen
DEFAULT_RESAMPLES = 2000
# Below this many units (cycles, reconnects) on a side, a comparison of times gives no
# verdict: k units give only C(2k-1, k) different resamples (3 for 2 units, 126 for 5), and
# an interval drawn from so few said "slower" of two cycles whose attaches differed by chance.
# A count per cycle (lost, unrecovered) needs 2: what a fix changes there is every cycle.
MIN_UNITS = 5
MIN_UNITS_OF_COUNTS = 2
DEFAULT_SEED = 0
_BOOTSTRAP_CHUNK_VALUES = 4_000_000  # resample this many values at a time to bound memory


def nearest_rank(n: int, q: float) -> int:
    """The 0-based index of percentile ``q`` among ``n`` sorted values (nearest-rank)."""
    if n <= 0:
        raise ValueError("no values")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    # round() first so that 95/100*20 = 19.000000000000004 does not become rank 20
    return max(1, math.ceil(round(q / 100 * n, 9))) - 1


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The exact nearest-rank percentile ``q`` of ``values`` (need not be sorted)."""
    arr = np.asarray(values, dtype=float)
    k = nearest_rank(arr.size, q)
    return float(np.partition(arr, k)[k])


def resolved(n: int, q: float) -> bool:
    """True when at least one of ``n`` values lies above percentile ``q``."""
    return n * (1 - q / 100) >= 1 - 1e-9


@dataclass(frozen=True, slots=True)
class Summary:
    """n, exact percentiles, max and mean of one metric's values (milliseconds or counts)."""

    n: int
    percentiles: dict[int, float] = field(default_factory=dict)  # q -> value
    max: float | None = None
    mean: float | None = None

    @property
    def small_n(self) -> bool:
        return self.n < SMALL_N

    @property
    def unresolved(self) -> list[str]:
        """Percentiles that are just the largest value seen (too few values above them)."""
        return [f"p{q}" for q in PERCENTILES if self.n and not resolved(self.n, q)]

    def stat(self, name: str) -> float | None:
        """A statistic by the name budgets use: n, p50, p90, p95, p99, max, mean."""
        if name == "n":
            return float(self.n)
        if name == "max":
            return self.max
        if name == "mean":
            return self.mean
        if name.startswith("p") and name[1:].isdigit():
            q = int(name[1:])
            if q in self.percentiles:
                return self.percentiles[q]
        raise KeyError(name)

    def to_json_dict(self) -> dict:
        out: dict = {"n": self.n}
        for q in PERCENTILES:
            out[f"p{q}"] = _r(self.percentiles.get(q))
        out["max"] = _r(self.max)
        out["mean"] = _r(self.mean)
        out["small_n"] = self.small_n
        out["unresolved"] = self.unresolved
        return out


def summarize(values: Sequence[float] | np.ndarray) -> Summary:
    """Summary of ``values`` with exact nearest-rank percentiles. NaNs are not allowed."""
    arr = np.sort(np.asarray(values, dtype=float))
    n = int(arr.size)
    if n == 0:
        return Summary(0)
    if np.isnan(arr).any():
        raise ValueError("NaN among values")
    pct = {q: float(arr[nearest_rank(n, q)]) for q in PERCENTILES}
    return Summary(n, pct, float(arr[-1]), float(arr.mean()))


@dataclass(frozen=True, slots=True)
class Difference:
    """candidate - baseline of a statistic, with its bootstrap 95% confidence interval."""

    statistic: str  # "p50" or "mean"
    baseline: float | None
    candidate: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # lower | higher | no clear difference | not enough data
    # the independent units resampled on each side: the cases, or fewer when several cases
    # are of one cycle or reconnect
    baseline_units: int = 0
    candidate_units: int = 0

    def to_json_dict(self) -> dict:
        return {
            "statistic": self.statistic,
            "baseline": _r(self.baseline),
            "candidate": _r(self.candidate),
            "diff": _r(self.diff),
            "ci95": None if self.ci_low is None else [_r(self.ci_low), _r(self.ci_high)],
            "verdict": self.verdict,
            "units": [self.baseline_units, self.candidate_units],
        }


def _bootstrap_stats(arr: np.ndarray, statistic: str, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The statistic of ``resamples`` resamples (n draws with replacement) of ``arr``.

    Both are drawn from the exact sampling distribution instead of building each resample,
    so 100,000 cases cost no more than 100: the median (rank k of n) of a resample is the
    sorted value at index floor(n * U), U ~ Beta(k, n + 1 - k) being the k-th smallest of n
    uniform draws; the mean of a resample of few distinct values (counts) follows from
    multinomial counts of those values. Other means resample directly, in bounded chunks."""
    n = arr.size
    if statistic == "p50":
        ordered = np.sort(arr)
        k = nearest_rank(n, 50) + 1
        idx = np.minimum((rng.beta(k, n + 1 - k, size=resamples) * n).astype(np.int64), n - 1)
        return ordered[idx]
    values, counts = np.unique(arr, return_counts=True)
    if values.size <= 64:
        return rng.multinomial(n, counts / n, size=resamples) @ values / n
    out = np.empty(resamples)
    rows = max(1, _BOOTSTRAP_CHUNK_VALUES // n)
    done = 0
    while done < resamples:
        m = min(rows, resamples - done)
        out[done : done + m] = arr[rng.integers(0, n, size=(m, n))].mean(axis=1)
        done += m
    return out


def _unit_codes(units: Sequence[object] | None, n: int) -> tuple[np.ndarray | None, int]:
    """(each case's unit as 0..k-1, k); (None, n) when every case is a unit of its own."""
    if units is None:
        return None, n
    if len(units) != n:
        raise ValueError(f"{len(units)} units for {n} values")
    codes: dict[object, int] = {}
    out = np.fromiter((codes.setdefault(u if u is not None else ("case", i), len(codes))
                       for i, u in enumerate(units)), dtype=np.int64, count=n)
    return (None, n) if len(codes) == n else (out, len(codes))


def _unit_draws(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    """(m, k): how many times each of k units is drawn in each of m resamples of k draws."""
    draws = rng.integers(0, k, size=(m, k)) + (np.arange(m) * k)[:, None]
    return np.bincount(draws.ravel(), minlength=m * k).reshape(m, k)


def _bootstrap_units(arr: np.ndarray, codes: np.ndarray, k: int, statistic: str, resamples: int,
                     rng: np.random.Generator, window: int | None = None) -> np.ndarray:
    """The statistic of ``resamples`` resamples of ``arr``'s units (``codes``: each value's,
    ``k`` of them): k units drawn with replacement, each bringing all its values (a cluster
    bootstrap). Each resample is drawn as how many times each unit is taken. Its mean is then
    the units' sums and sizes weighed; its median (nearest rank) lies near the middle of the
    sorted values, so the weights are summed over a ``window`` of sorted values around it,
    from what the units hold below the window (the whole range for the rare resample whose
    median falls outside). In bounded chunks."""
    n = arr.size
    order = np.argsort(arr, kind="stable")
    ordered, owner = arr[order], codes[order]
    sizes = np.bincount(owner, minlength=k).astype(np.float64)
    out = np.empty(resamples)
    if statistic != "p50":
        sums = np.bincount(owner, weights=ordered, minlength=k)
        done = 0
        rows = max(1, _BOOTSTRAP_CHUNK_VALUES // k)
        while done < resamples:
            m = min(rows, resamples - done)
            counts = _unit_draws(rng, m, k).astype(np.float64)
            out[done : done + m] = (counts @ sums) / (counts @ sizes)
            done += m
        return out
    if window is None:  # (wide enough that a median outside is rare: some 20 standard errors of its rank)
        window = 4096 + 8 * int(math.sqrt(n)) * int(sizes.max())
    lo = max(0, n // 2 - window // 2)
    hi = min(n, lo + window)
    # The units with a value in the window are drawn one by one; the others only as how many
    # draws fell in each group of them alike (as many values below the window, and in all),
    # which is all the median needs of them: the draws a group gets is a multinomial
    # count like any unit's, and how they spread over its units is drawn only for a resample
    # whose median falls outside the window.
    inside = np.unique(owner[lo:hi])
    local = np.full(k, -1, dtype=np.int64)
    local[inside] = np.arange(inside.size)
    below_all = np.bincount(owner[:lo], minlength=k).astype(np.float64)
    outside = np.flatnonzero(local < 0)
    size_of = sizes[outside].astype(np.int64)
    # (alike: as many values below the window, and as many in all; one below and one above it
    # is a unit of its own kind)
    group_key = below_all[outside].astype(np.int64) * (int(size_of.max(initial=0)) + 1) + size_of
    keys, group = np.unique(group_key, return_inverse=True)
    members = [outside[group == g] for g in range(keys.size)]
    g_size = np.array([sizes[mm[0]] for mm in members], dtype=np.float64)
    g_below = np.array([below_all[mm[0]] for mm in members], dtype=np.float64)
    p = np.array([mm.size for mm in members] + [inside.size], dtype=np.float64) / k
    in_window = local[owner[lo:hi]]
    # (a chunk holds several arrays of its rows by the window: a quarter of the flat chunk keeps
    # its memory to some tens of MB)
    rows = max(1, _BOOTSTRAP_CHUNK_VALUES // 4 // max(inside.size, hi - lo, 1))
    done = 0
    while done < resamples:
        m = min(rows, resamples - done)
        agg = rng.multinomial(k, p, size=m)
        per_group, c_in = agg[:, :-1].astype(np.float64), agg[:, -1]
        spread = np.repeat(np.arange(m) * inside.size, c_in) + rng.integers(0, max(inside.size, 1), int(c_in.sum()))
        counts_in = np.bincount(spread, minlength=m * inside.size).reshape(m, inside.size).astype(np.float64)
        offset = per_group @ g_below + counts_in @ below_all[inside]
        total = per_group @ g_size + counts_in @ sizes[inside]
        rank = np.maximum(1, np.ceil(np.round(total * 0.5, 9)))  # (nearest rank, as percentile())
        weights = counts_in[:, in_window]
        cum = offset[:, None] + np.cumsum(weights, axis=1)
        found = (offset < rank) & (cum[:, -1] >= rank) if hi > lo else np.zeros(m, dtype=bool)
        idx = np.empty(m, dtype=np.int64)
        idx[found] = lo + (cum[found] >= rank[found, None]).argmax(axis=1)
        for r in np.flatnonzero(~found):  # (outside the window: each unit's count, then summed over all)
            counts = np.zeros(k)
            counts[inside] = counts_in[r]
            for g, mm in enumerate(members):
                counts[mm] = np.bincount(rng.integers(0, mm.size, agg[r, g]), minlength=mm.size)
            idx[r] = (np.cumsum(counts[owner]) >= rank[r]).argmax()
        out[done : done + m] = ordered[idx]
        done += m
    return out


def compare(
    baseline: Sequence[float] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    statistic: str = "p50",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    baseline_units: Sequence[object] | None = None,
    candidate_units: Sequence[object] | None = None,
    min_units: int = MIN_UNITS,
) -> Difference:
    """Difference candidate - baseline of the median (``p50``, nearest rank) or the ``mean``,
    with a percentile-bootstrap 95% interval: both sides are resampled independently
    ``resamples`` times from one generator seeded with ``seed``, so the interval is the same
    on every run. ``*_units`` name the unit each value is of (its cycle, its reconnect; None:
    its own): cases of one unit are resampled together, so that the re-attaches of one
    reconnect do not count as independent cases. The verdict is "lower" when the whole
    interval is below zero, "higher" when it is above, else "no clear difference"; "not
    enough data" with fewer than ``min_units`` units on a side."""
    if statistic not in ("p50", "mean"):
        raise ValueError(f"unknown statistic {statistic!r}")
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    (codes_b, k_b), (codes_c, k_c) = _unit_codes(baseline_units, base.size), _unit_codes(candidate_units, cand.size)

    def stat(a: np.ndarray) -> float | None:
        if a.size == 0:
            return None
        return float(a.mean()) if statistic == "mean" else percentile(a, 50)

    b, c = stat(base), stat(cand)
    if k_b < min_units or k_c < min_units:
        diff = None if b is None or c is None else c - b
        return Difference(statistic, b, c, diff, None, None, "not enough data", k_b, k_c)
    rng = np.random.default_rng(seed)

    def resampled(arr: np.ndarray, codes: np.ndarray | None, k: int) -> np.ndarray:
        if codes is None:
            return _bootstrap_stats(arr, statistic, resamples, rng)
        return _bootstrap_units(arr, codes, k, statistic, resamples, rng)

    diffs = resampled(cand, codes_c, k_c) - resampled(base, codes_b, k_b)
    diffs.sort()
    low = float(diffs[nearest_rank(resamples, 2.5)])
    high = float(diffs[nearest_rank(resamples, 97.5)])
    if high < 0:
        verdict = "lower"
    elif low > 0:
        verdict = "higher"
    else:
        verdict = "no clear difference"
    return Difference(statistic, b, c, c - b, low, high, verdict, k_b, k_c)


def _r(x: float | None) -> float | None:
    """Round for output: 0.1 ms is below any clock we read."""
    return None if x is None else round(float(x), 3)
