"""The metric catalog: what a protocol reports, declared once per metric (docs/metrics.md §12).

Each :class:`~vssleval.metrics.protocols.base.Protocol` lists its reported metrics as a tuple of
:class:`Metric` rows (``Protocol.metrics``). Everything that shows a metric derives from that one
list: the one-run headline table (``report.md``), the comparison tables and ``summary.csv`` of a
multi-run report (grouped by ``section``), the leaderboard's columns (``leaderboard``), the
bootstrap intervals in ``metrics.json`` and the paired ``--compare`` (``statistic``), and the
catalog table in docs/metrics.md (:func:`markdown`, tested to be current).

A *statistic* recomputes the metric from per-sample records, as
:mod:`vssleval.metrics.resampling` needs it (``stat(records, rows) -> [P]``, one value per row set).
Because a statistic may depend on the run (which negatives it heard, which native evaluator scored
it), a catalog row holds a *builder* ``statistic(context) -> Stat | str``: ``context`` says which
per-sample fields exist and what the runs' ``metrics.json`` hold, and a string says why these
records cannot give the metric (e.g. a negative the run did not compute). A row whose
``statistic`` is None is a number the protocol cannot resample at all; ``no_statistic`` says why.
``--compare`` prints either reason instead of a difference.

Like the rest of :mod:`vssleval.metrics` this module imports nothing else of vssleval (the
package may use the leaf modules ``vocabulary`` and ``errors`` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from .resampling import SEED_MEAN, Stat


@dataclass
class StatContext:
    """What a statistic builder may look at: the per-sample ``fields`` every run holds (the columns
    of ``per_sample.csv``), the ``results`` of the runs whose records are resampled (their
    ``metrics.json``: one run for intervals, two for a paired comparison, which use one statistic for
    both), and a ``cache`` shared by the builders of one call (e.g. AP and max-F1 are computed
    together once per row set)."""

    fields: frozenset[str]
    results: tuple[Mapping[str, Any], ...] = ()
    cache: dict[str, Any] = field(default_factory=dict)

    def shared(self, name: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per context under ``name`` (later calls return the first result)."""
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]


#: a statistic for these records, or one line saying why there is none
Builder = Callable[[StatContext], "Stat | str"]


@dataclass(frozen=True)
class Metric:
    """One reported metric of a protocol.

    Attributes:
        key: its ``metrics.json`` key.
        label: the name in the one-run headline table (``report.md``, the console).
        short: the column title of the comparison tables and the leaderboard.
        higher_is_better: True / False for the direction the leaderboard bolds; None for a number
            with no better direction (a raw-map statistic): never bold.
        section: title of the comparison table it belongs to (rows of one section form one table,
            in catalog order).
        statistic: builder of its statistic over per-sample records (module docstring), or None
            when the protocol cannot recompute it per sample (then ``no_statistic`` says why).
        seeds: how the statistic uses the seeds (:data:`vssleval.metrics.resampling.SEED_RULES`):
            ``mean`` (per seed, then the mean: the clean protocol), ``first`` (maps that do not
            depend on the seed), ``pooled`` (one value over every seed's rows: vssl_eval).
        headline: shown in the one-run headline table and the comparison tables.
        leaderboard: a column of ``leaderboard.md`` / ``.tex`` / ``.csv``.
        compare: a row of ``--compare``.
        interval: gets a ``<key>_ci95_low`` / ``_high`` bootstrap interval in ``metrics.json``
            (protocols that write intervals; needs a ``statistic``).
        no_statistic: why there is no statistic (one line), shown by ``--compare``.
    """

    key: str
    label: str
    short: str
    higher_is_better: bool | None
    section: str
    statistic: Builder | None = None
    seeds: str = SEED_MEAN
    headline: bool = True
    leaderboard: bool = False
    compare: bool = False
    interval: bool = True
    no_statistic: str = ""

    def __post_init__(self) -> None:
        if self.statistic is None and self.compare and not self.no_statistic:
            raise ValueError(f"metric {self.key!r}: a compared metric without a statistic must say why "
                             "(no_statistic): --compare prints it")


def check_catalog(metrics: Sequence[Metric], protocol: str) -> None:
    """Refuse a catalog with a key twice or a section split by another section's rows."""
    keys = [m.key for m in metrics]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"protocol {protocol}: metric keys listed twice in its catalog: {twice}")
    seen: list[str] = []
    for m in metrics:
        if m.section in seen and seen[-1] != m.section:
            raise ValueError(f"protocol {protocol}: section {m.section!r} is split by another section")
        if m.section not in seen:
            seen.append(m.section)


def statistic(metric: Metric, context: StatContext) -> tuple[Stat, str] | str:
    """``(stat, seeds rule)`` of ``metric`` for ``context``, or one line saying why there is none."""
    if metric.statistic is None:
        return metric.no_statistic or "the protocol does not recompute it per sample"
    stat = metric.statistic(context)
    return stat if isinstance(stat, str) else (stat, metric.seeds)


def statistics(metrics: Iterable[Metric], context: StatContext,
               which: Callable[[Metric], bool] = lambda m: True) -> dict[str, tuple[Stat, str]]:
    """``{key: (stat, seeds rule)}`` of the catalog rows selected by ``which`` that have a statistic
    for ``context`` (the input of :func:`vssleval.metrics.resampling.bootstrap_intervals`)."""
    out = {}
    for m in metrics:
        if which(m):
            got = statistic(m, context)
            if not isinstance(got, str):
                out[m.key] = got
    return out


def sections(metrics: Iterable[Metric]) -> list[tuple[str, list[Metric]]]:
    """The headline rows grouped by section, sections and rows in catalog order."""
    out: dict[str, list[Metric]] = {}
    for m in metrics:
        if m.headline:
            out.setdefault(m.section, []).append(m)
    return list(out.items())


# -- small statistics shared by the protocols' catalogs ------------------------------------------
def fields_stat(fn: Callable[..., np.ndarray], *fields: str) -> Stat:
    """A statistic from a vectorized function of the taken fields: ``fn(*[field[rows]])`` with each
    argument ``[P, n]``, returning ``[P]``.

    Examples:
    >>> stat = fields_stat(lambda a, b: (a - b).mean(axis=-1), "a", "b")
    >>> stat({"a": np.array([3.0, 5.0]), "b": np.array([1.0, 1.0])}, np.array([[0, 1], [1, 1]])).tolist()
    [3.0, 4.0]
    """
    def stat(rec: Mapping[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        return np.asarray(fn(*(np.asarray(rec[f], np.float64)[rows] for f in fields)), np.float64)
    return stat


def needs(fields: Sequence[str], build: Callable[[], Stat]) -> Builder:
    """A builder that gives ``build()`` when the context holds every one of ``fields``, else says
    which are missing.

    Examples:
    >>> builder = needs(["iou_med"], lambda: "a statistic")
    >>> builder(StatContext(frozenset({"iou_med"}))), builder(StatContext(frozenset()))
    ('a statistic', 'the per-sample records lack iou_med')
    """
    def builder(context: StatContext) -> Stat | str:
        missing = [f for f in fields if f not in context.fields]
        return f"the per-sample records lack {', '.join(missing)}" if missing else build()
    return builder


# -- the catalog in docs/metrics.md ---------------------------------------------------------------
def _direction(m: Metric) -> str:
    return {True: "higher", False: "lower", None: "-"}[m.higher_is_better]


def _uses(m: Metric) -> str:
    parts = [p for p, on in (("headline", m.headline), ("leaderboard", m.leaderboard), ("compare", m.compare),
                             ("interval", m.interval and m.statistic is not None)) if on]
    return ", ".join(parts) or "-"


def markdown(catalogs: Mapping[str, Sequence[Metric]]) -> str:
    """The catalog of every protocol as Markdown (docs/metrics.md §12 holds this text, tested).

    ``catalogs``: protocol name -> its metrics, in the order to print."""
    lines = []
    for name, metrics in catalogs.items():
        lines += [f"**`{name}`**", "", "| key | label | column | better | section | resampled | used in |",
                  "|---|---|---|---|---|---|---|"]
        for m in metrics:
            resampled = m.seeds if m.statistic is not None else f"no: {m.no_statistic or 'not resampled'}"
            cells = [f"`{m.key}`", m.label, m.short, _direction(m), m.section, resampled, _uses(m)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
