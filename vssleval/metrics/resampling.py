"""Bootstrap intervals and paired permutation tests over samples (docs/metrics.md §11).

A *statistic* here is a function ``stat(records, rows) -> [P]``: ``records`` is one seed's
per-sample scalars ``{field: float64 [M]}`` and ``rows`` an int array ``[P, n]`` of row indices into
them, one row set per draw (a bootstrap resample, or a permutation of two runs' samples). It
returns the metric computed on each row set. Means vectorize over the draws; metrics that do not
(AP, max-F1, AUROC) loop over them (:func:`looped`).

* :func:`bootstrap_intervals`: percentile intervals of seed-averaged metrics. Each resample draws
  ``n`` sample indices with replacement and the *same* draw is used for every seed and every metric
  (paired across seeds: the interval is the sample variability of the seed mean).
* :func:`paired_difference`: run B - run A on the same samples, with a paired bootstrap interval
  and a two-sided paired permutation p-value (each sample's records are swapped between the runs
  with probability 1/2; exact enumeration of all 2^n swaps when that is at most the requested
  number of permutations).

Everything is seeded (``seed``); the draws depend only on ``n``, ``n_boot`` and ``seed``.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from .curves import GRID, trapezoid
from ..timing import phase  # a leaf: the run's "bootstrap" seconds (metrics.json timing)

#: Interval level of every ``*_ci95_*`` key.
LEVEL = 0.95
#: Seed of the bootstrap and permutation draws (recorded in ``metrics.json``).
DEFAULT_SEED = 0
#: How the intervals are made (recorded in ``metrics.json`` beside the resamples and the seed).
METHOD = ("percentile bootstrap over samples: n sample indices drawn with replacement per resample, the same "
          "draw for every seed and metric, the metric averaged over seeds")
#: Fewest draws that must lie beyond each end of a percentile interval for it to be reported: the
#: ends are the alpha/2 and 1 - alpha/2 quantiles of the draws, and with fewer than a handful of
#: draws in a tail an end is one or two extreme draws (with one draw in all, an "interval" that need
#: not even contain its estimate). Five per tail is the usual "expect at least 5" rule for a count.
TAIL_DRAWS = 5
#: Draws processed at once (bounds memory at ``CHUNK x n`` indices per statistic).
CHUNK = 64

Records = Mapping[str, np.ndarray]
Stat = Callable[[Records, np.ndarray], np.ndarray]

#: How a statistic uses the seeds (a metric catalog row's ``seeds``): ``mean``: computed on each
#: seed's rows, then averaged (the clean protocol); ``first``: the first seed only (maps that do
#: not depend on the seed); ``pooled``: computed once on every seed's rows together (vssl_eval pools
#: the seeds), the same sample draw taken in each seed. ``True`` / ``False`` mean ``first`` / ``mean``.
SEED_MEAN, FIRST_SEED, POOLED = "mean", "first", "pooled"
SEED_RULES = (SEED_MEAN, FIRST_SEED, POOLED)


def min_resamples(level: float = LEVEL) -> int:
    """Fewest resamples that support a ``level`` percentile interval: :data:`TAIL_DRAWS` draws
    beyond each end, i.e. ``TAIL_DRAWS / ((1 - level) / 2)`` (200 at 95 %; 1000 at 99 %).

    Examples:
    >>> min_resamples(0.95), min_resamples(0.9), min_resamples(0.99)
    (200, 100, 1000)
    """
    tail = (1.0 - level) / 2
    return math.ceil(TAIL_DRAWS / tail - 1e-9)  # 1e-9: 5 / 0.025 is 199.99999999999997 in floats


#: Resamples below which no 95 % interval is reported (``--bootstrap`` lower than this: ``n/a``).
MIN_RESAMPLES = min_resamples(LEVEL)


def too_few_resamples(n_boot: int, level: float = LEVEL) -> str | None:
    """Why ``n_boot`` resamples give no ``level`` interval (one line), or None when they do.

    Examples:
    >>> too_few_resamples(1000) is None
    True
    >>> too_few_resamples(0)
    'no bootstrap (--bootstrap 0)'
    >>> too_few_resamples(50)
    '50 resamples (--bootstrap 50) are fewer than the 200 a 95 % interval needs (5 beyond each end)'
    """
    need = min_resamples(level)
    if n_boot >= need:
        return None
    if n_boot <= 0:
        return "no bootstrap (--bootstrap 0)"
    count = f"{n_boot} resamples (--bootstrap {n_boot}) are" if n_boot != 1 else "1 resample (--bootstrap 1) is"
    return f"{count} fewer than the {need} a {level * 100:g} % interval needs ({TAIL_DRAWS} beyond each end)"


# -- statistics -------------------------------------------------------------------------------
def mean_of(field: str) -> Stat:
    """Mean of ``field`` over the rows (pIA, mIoU)."""
    def stat(rec: Records, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rec[field], np.float64)[rows].mean(axis=-1)
    return stat


def success_of(field: str, threshold: float = 0.5) -> Stat:
    """Fraction of rows with ``field >= threshold`` (NaN fails), i.e. the cIoU success rate."""
    def stat(rec: Records, rows: np.ndarray) -> np.ndarray:
        v = np.asarray(rec[field], np.float64)
        return (v >= threshold)[rows].mean(axis=-1)
    return stat


def sample_auc(values: np.ndarray) -> np.ndarray:
    """Each sample's share of the success-curve AUC: ``trapezoid(1[v >= GRID])`` ``[n]``.

    The AUC is linear in the samples (the curve is a mean of per-sample step functions), so the
    AUC of any sample set is the mean of these shares (NaN fails at every threshold).

    Examples:
    >>> [round(float(a), 6) for a in sample_auc(np.array([0.0, 0.5, np.nan]))]
    [0.025, 0.525, 0.0]
    """
    v = np.asarray(values, np.float64)
    return trapezoid((v[:, None] >= GRID[None, :]).astype(np.float64))


def auc_of(field: str) -> Stat:
    """Success-curve AUC of ``field`` over the rows (:func:`sample_auc`)."""
    def stat(rec: Records, rows: np.ndarray) -> np.ndarray:
        return sample_auc(rec[field])[rows].mean(axis=-1)
    return stat


def median_of(field: str) -> Stat:
    """Median of the finite values of ``field`` over the rows (NaN when none is finite)."""
    def stat(rec: Records, rows: np.ndarray) -> np.ndarray:
        v = np.asarray(rec[field], np.float64)
        v = np.where(np.isfinite(v), v, np.nan)[rows]
        out = np.full(v.shape[:-1], np.nan)
        ok = np.isfinite(v).any(axis=-1)
        if ok.any():
            out[ok] = np.nanmedian(v[ok], axis=-1)
        return out
    return stat


def looped(fn: Callable[[dict[str, np.ndarray]], float], fields: Sequence[str]) -> Stat:
    """A statistic that is no mean: ``fn(records restricted to one row set)`` for each row set."""
    def stat(rec: Records, rows: np.ndarray) -> np.ndarray:
        cols = {f: np.asarray(rec[f]) for f in fields if f in rec}
        return np.array([fn({f: c[r] for f, c in cols.items()}) for r in rows], np.float64)
    return stat


# -- draws ------------------------------------------------------------------------------------
def resamples(n: int, n_boot: int, seed: int = DEFAULT_SEED, chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """Bootstrap row sets ``[<=chunk, n]`` (indices drawn with replacement), ``n_boot`` in all."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_boot:
        k = min(chunk, n_boot - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def percentile_interval(draws: np.ndarray, level: float = LEVEL,
                        estimate: float | None = None) -> tuple[float, float]:
    """The ``level`` percentile interval of the finite ``draws``, widened to contain ``estimate``.

    NaN, NaN when fewer than :func:`min_resamples` draws are finite (the ends would be a few
    extreme draws). The percentile interval of a skewed statistic on few samples can miss the
    value it is about (e.g. AP, whose resamples repeat samples); an interval printed beside a
    value must contain it, so ``low <= estimate <= high`` always holds for a finite ``estimate``.

    Examples:
    >>> percentile_interval(np.arange(21.0), level=0.5)   # numpy's linear percentiles 25 and 75
    (5.0, 15.0)
    >>> percentile_interval(np.arange(21.0), level=0.5, estimate=18.0)
    (5.0, 18.0)
    >>> percentile_interval(np.arange(5.0), level=0.5)    # 5 draws: fewer than the 20 needed
    (nan, nan)
    """
    d = np.asarray(draws, np.float64)
    d = d[np.isfinite(d)]
    if d.size < min_resamples(level):
        return float("nan"), float("nan")
    a = (1 - level) / 2 * 100
    lo, hi = (float(x) for x in np.percentile(d, [a, 100 - a]))
    if estimate is not None and math.isfinite(estimate):
        lo, hi = min(lo, float(estimate)), max(hi, float(estimate))
    return lo, hi


def _rule(seed_free: bool | str) -> str:
    """The seed rule of a statistic (:data:`SEED_RULES`); a bool is the older spelling."""
    if isinstance(seed_free, bool):
        return FIRST_SEED if seed_free else SEED_MEAN
    if seed_free not in SEED_RULES:
        raise ValueError(f"unknown seed rule {seed_free!r}; expected one of {SEED_RULES}")
    return seed_free


def pool_seeds(seeds: Sequence[Records]) -> dict[str, np.ndarray]:
    """Seed-major concatenation of the fields every seed holds (the input of a ``pooled`` statistic)."""
    fields = [f for f in seeds[0] if all(f in s for s in seeds)]
    return {f: np.concatenate([np.asarray(s[f]) for s in seeds]) for f in fields}


def same_seeds(seeds: Sequence[Records]) -> list[int]:
    """For each seed, the first seed whose records are equal to its own, field by field (the seeds
    of a model whose maps ignore the audio are all alike: docs/models.md §13)."""
    first: list[int] = []
    for s, rec in enumerate(seeds):  # compared with each distinct seed met so far, once
        first.append(next((t for t in dict.fromkeys(first) if _equal_records(seeds[t], rec)), s))
    return first


def _equal_records(a: Records, b: Records) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(np.asarray(a[f]), np.asarray(b[f]), equal_nan=True)
                                        for f in a)


def _seed_mean(stat: Stat, seeds: Sequence[Records], rows: np.ndarray, seed_free: bool | str,
               pooled: Records | None = None, alike: Sequence[int] | None = None) -> np.ndarray:
    """The statistic over seeds by its rule (:data:`SEED_RULES`): averaged over seeds, on the first
    seed only, or once on the rows of every seed (``pooled``: :func:`pool_seeds` of ``seeds``; the
    row set is taken in each seed, seed-major). ``alike``: :func:`same_seeds` of ``seeds``; a seed
    equal to an earlier one reuses its value (the mean is then taken over the same values)."""
    rule = _rule(seed_free)
    if rule == POOLED:
        m = len(next(iter(seeds[0].values())))
        every = np.concatenate([rows + s * m for s in range(len(seeds))], axis=-1)
        return stat(pooled if pooled is not None else pool_seeds(seeds), every)
    used = seeds[:1] if rule == FIRST_SEED else seeds
    reps = list(alike[:len(used)]) if alike is not None else range(len(used))
    values = {r: stat(used[r], rows) for r in dict.fromkeys(reps)}  # each distinct seed once
    return np.mean([values[r] for r in reps], axis=0)


def bootstrap_intervals(stats: Mapping[str, tuple[Stat, bool]], seeds: Sequence[Records], n_boot: int,
                        seed: int = DEFAULT_SEED, level: float = LEVEL,
                        progress: Callable[[int], None] | None = None,
                        estimates: Mapping[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of each seed-averaged statistic, containing its estimate.

    Args:
        stats: ``{key: (stat, seed rule)}``; the rule (:data:`SEED_RULES`) says how the seeds enter:
            averaged (``mean``, or False), the first seed only for maps that do not depend on the
            seed (``first``, or True: positive audio), or pooled (``pooled``).
        seeds: per-seed records, every seed with the same ``n`` samples in the same order.
        n_boot: resamples; fewer than :func:`min_resamples` give NaN intervals and draw nothing
            (:func:`too_few_resamples` says why). seed: the draws' seed. progress: called with the
            resamples done after each block (a progress bar).
        estimates: ``{key: value}`` the intervals must contain (the values a table prints beside
            them); default: each statistic on all samples.
    Returns:
        ``{key: (low, high)}`` with ``low <= estimate <= high`` (:func:`percentile_interval`).

    Examples:
    >>> rec = {"x": np.array([0.0, 1.0])}
    >>> lo, hi = bootstrap_intervals({"x": (mean_of("x"), True)}, [rec], 400)["x"]
    >>> lo, hi
    (0.0, 1.0)
    >>> bootstrap_intervals({"x": (mean_of("x"), True)}, [rec], 20)["x"]   # too few resamples
    (nan, nan)
    """
    if too_few_resamples(n_boot, level):
        return {k: (float("nan"), float("nan")) for k in stats}
    n = len(next(iter(seeds[0].values())))
    ident = np.arange(n)[None, :]
    pooled = pool_seeds(seeds) if any(_rule(r) == POOLED for _, r in stats.values()) else None
    alike = same_seeds(seeds)  # a statistic of equal seeds is computed once per row set
    point = {k: float(_seed_mean(stat, seeds, ident, seed_free, pooled, alike)[0])
             for k, (stat, seed_free) in stats.items()}
    point.update({k: float(v) for k, v in (estimates or {}).items() if k in stats and v is not None})
    draws: dict[str, list[np.ndarray]] = {k: [] for k in stats}
    with phase("bootstrap"):
        for rows in resamples(n, n_boot, seed):
            for key, (stat, seed_free) in stats.items():
                draws[key].append(_seed_mean(stat, seeds, rows, seed_free, pooled, alike))
            if progress is not None:
                progress(len(rows))
        return {k: percentile_interval(np.concatenate(v), level, point[k]) for k, v in draws.items()}


def _paired(a: Records, b: Records) -> dict[str, np.ndarray]:
    """Both runs' records stacked: rows ``0..n-1`` are run A's samples, ``n..2n-1`` run B's."""
    return {f: np.concatenate([np.asarray(a[f]), np.asarray(b[f])]) for f in a if f in b}


def swap_masks(n: int, n_perm: int, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, bool]:
    """Which samples swap runs, ``[P, n]`` bools, and whether this is the exact enumeration
    (all ``2^n`` masks, when ``2^n <= n_perm``) rather than ``n_perm`` random masks."""
    if n < 63 and 2 ** n <= n_perm:
        codes = np.arange(2 ** n, dtype=np.int64)
        return ((codes[:, None] >> np.arange(n)) & 1).astype(bool), True
    rng = np.random.default_rng(seed)
    return rng.random((n_perm, n)) < 0.5, False


def paired_difference(stat: Stat, seed_free: bool | str, runs_a: Sequence[Records], runs_b: Sequence[Records],
                      n_boot: int, seed: int = DEFAULT_SEED, level: float = LEVEL) -> dict[str, float]:
    """Run B minus run A for one statistic on the same samples (same order, same seed count).

    The difference of the seed-averaged statistic; its paired bootstrap interval (one resample of
    sample indices used for both runs); and the two-sided paired permutation p-value: under "no
    difference" the runs are exchangeable sample by sample, so each sample's records (all seeds)
    are swapped between A and B at random and ``p = (1 + #{|d*| >= |d|}) / (1 + P)`` with
    ``P = n_boot`` random swaps, or, when ``2^n <= n_boot``, ``p = #{|d*| >= |d|} / 2^n`` over every
    swap (exact; the unswapped assignment is one of them), so ``1 / (1 + P) <= p <= 1`` (or
    ``2 / 2^n <= p``) and never 0. The interval is left NaN below :func:`min_resamples` and always
    contains the difference (:func:`percentile_interval`); ``n_boot = 0``: no interval, no p.

    Returns ``{'a', 'b', 'diff', 'ci95_low', 'ci95_high', 'p_value', 'exact'}``.
    """
    if len(runs_a) != len(runs_b):
        raise ValueError(f"run A has {len(runs_a)} seeds and run B {len(runs_b)}: a paired comparison needs the same")
    both = [_paired(a, b) for a, b in zip(runs_a, runs_b)]
    pooled = pool_seeds(both) if _rule(seed_free) == POOLED else None
    n = len(next(iter(runs_a[0].values())))
    ident = np.arange(n)[None, :]
    va = float(_seed_mean(stat, both, ident, seed_free, pooled)[0])
    vb = float(_seed_mean(stat, both, ident + n, seed_free, pooled)[0])
    out = {"a": va, "b": vb, "diff": vb - va, "ci95_low": float("nan"), "ci95_high": float("nan"),
           "p_value": float("nan"), "exact": False}
    if n_boot <= 0 or n == 0:
        return out
    if not too_few_resamples(n_boot, level):
        diffs = [_seed_mean(stat, both, rows + n, seed_free, pooled) - _seed_mean(stat, both, rows, seed_free, pooled)
                 for rows in resamples(n, n_boot, seed)]
        out["ci95_low"], out["ci95_high"] = percentile_interval(np.concatenate(diffs), level, out["diff"])
    masks, exact = swap_masks(n, n_boot, seed + 1)
    observed = abs(out["diff"])
    tol = 1e-12 * max(1.0, observed)  # a swap that reproduces |d| up to rounding counts as extreme
    extreme = 0
    for start in range(0, len(masks), CHUNK):
        m = masks[start:start + CHUNK]
        rows_b = np.where(m, ident, ident + n)  # swapped samples take A's records as "B"
        rows_a = np.where(m, ident + n, ident)
        d = _seed_mean(stat, both, rows_b, seed_free, pooled) - _seed_mean(stat, both, rows_a, seed_free, pooled)
        extreme += int(np.count_nonzero(np.abs(d) >= observed - tol))
    out["p_value"] = extreme / len(masks) if exact else (1 + extreme) / (1 + len(masks))
    out["exact"] = exact
    return out
