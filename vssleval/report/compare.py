"""Paired comparison of two runs on the same samples: B - A per metric, with a paired bootstrap
interval and a two-sided paired permutation p-value (docs/metrics.md §11.2), written to ``compare.csv``.

The compared metrics are the ``compare`` rows of the runs' protocol catalog
(:attr:`vssleval.metrics.protocols.base.Protocol.metrics`), each recomputed from the runs'
``per_sample.csv`` by its catalog statistic, so the compared values equal those in each run's
``metrics.json``. A compared metric that cannot be recomputed per sample (no statistic, records that
lack a field, two native evaluators with different rules) is listed as not comparable, with the
reason, and its two ``metrics.json`` values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vssleval.errors import VsslevalError
from vssleval.metrics import resampling
from vssleval.metrics.catalog import StatContext, statistic
from vssleval.metrics.protocols import get_protocol
from vssleval.report.runs import RunRecord, data_difference
from vssleval.report.text import csv_text, visible
from vssleval.shown_paths import for_console, in_folder


def check_pair(a: RunRecord, b: RunRecord, allow_mixed: bool = False) -> None:
    """Refuse two runs that are not the same samples of the same dataset, or (unless ``allow_mixed``)
    that read different data, decided as ``report`` decides it (naming the difference)."""
    for key in ("dataset",):
        if str(a.run.get(key)) != str(b.run.get(key)):
            raise VsslevalError(f"--compare needs runs of the same dataset: {a.path} is on {a.run.get(key)!r}, "
                                f"{b.path} on {b.run.get(key)!r}")
    mixed = data_difference([a, b])
    if mixed and not allow_mixed:
        raise VsslevalError(f"--compare needs two runs on the same data: {mixed}; evaluate both on the same data, "
                            "or pass --allow-mixed to compare them anyway")
    ids_a, ids_b = _ids(a), _ids(b)
    if ids_a != ids_b:
        only_a, only_b = sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))
        if only_a or only_b:
            raise VsslevalError(
                f"--compare needs the same samples: {len(only_a)} sample(s) only in {a.path} (e.g. "
                f"{', '.join(only_a[:3]) or '-'}), {len(only_b)} only in {b.path} (e.g. {', '.join(only_b[:3]) or '-'}); "
                "evaluate both models on the same records (same --limit, --skip-bad and data folder)")
    if len({a.protocol, b.protocol}) > 1:  # each protocol has its own metrics and per-sample records
        raise VsslevalError(f"--compare pairs runs of one protocol: {a.path} is a {a.protocol!r} run, {b.path} a "
                            f"{b.protocol!r} one (rescore one with `vssleval rescore RUN --protocol "
                            f"{a.protocol} --out DIR`)")
    get_protocol(a.protocol)  # an unknown protocol: one line naming the known ones
    na, nb = len(_seeds(a)), len(_seeds(b))
    if na != nb:
        raise VsslevalError(f"--compare pairs the runs seed by seed: {a.path} has {na} seeds, {b.path} {nb}; "
                            "evaluate both with the same --seeds")


def _ids(r: RunRecord) -> list[str]:
    if not _seeds(r):  # a run of no samples (an empty per_sample.csv)
        return []
    first = r.columns["seed_index"] == _seeds(r)[0]
    return [str(x) for x in r.columns["sample_id"][first]]


def sample_count(r: RunRecord) -> int:
    """The samples a run holds (those of its first seed)."""
    return len(_ids(r))


def _seeds(r: RunRecord) -> list[float]:
    return sorted(set(r.columns["seed_index"].tolist()))


def seed_records(r: RunRecord, order: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """Per-seed ``{column: [N]}`` of a run, samples in ``order``."""
    out = []
    for s in _seeds(r):
        rows = r.columns["seed_index"] == s
        ids = [str(x) for x in r.columns["sample_id"][rows]]
        pos = {sid: i for i, sid in enumerate(ids)}
        take = np.array([pos[sid] for sid in order])
        out.append({k: v[rows][take] for k, v in r.columns.items()
                    if k not in ("sample_id", "seed_index") and v.dtype.kind == "f"})
    return out


def compare(a: RunRecord, b: RunRecord, n_boot: int, seed: int = resampling.DEFAULT_SEED,
            allow_mixed: bool = False) -> list[dict[str, Any]]:
    """One row per compared catalog metric either run has: ``{metric, label, a, b, diff, ci95_low,
    ci95_high, p_value, exact, not_comparable}`` (B - A); ``not_comparable`` is None, or why the metric
    has no paired statistic (then ``a`` / ``b`` are the ``metrics.json`` values, no interval, no p)."""
    check_pair(a, b, allow_mixed)
    if not _seeds(a):  # nothing to pair: say so rather than fail on the first seed
        raise VsslevalError(f"--compare needs samples: {a.path / 'per_sample.csv'} and {b.path / 'per_sample.csv'} "
                            "hold none")
    order = _ids(a)
    recs_a, recs_b = seed_records(a, order), seed_records(b, order)
    context = StatContext(frozenset(recs_a[0]) & frozenset(recs_b[0]), (a.metrics, b.metrics))
    rows = []
    for metric in get_protocol(a.protocol).compared():
        if metric.key not in a.metrics and metric.key not in b.metrics:
            continue  # neither run has it (e.g. a negative neither computed): nothing to compare
        row: dict[str, Any] = {"metric": metric.key, "label": metric.short, "not_comparable": None}
        got = statistic(metric, context)
        missing = [r.path for r in (a, b) if metric.key not in r.metrics]
        if missing:
            got = f"only one run has it ({missing[0]} has no {metric.key})"
        if isinstance(got, str):
            va, vb = (_number(r.metrics.get(metric.key)) for r in (a, b))
            row.update(a=va, b=vb, diff=vb - va, ci95_low=float("nan"), ci95_high=float("nan"),
                       p_value=float("nan"), exact=False, not_comparable=got)
        else:
            stat, seeds_rule = got
            row.update(resampling.paired_difference(stat, seeds_rule, recs_a, recs_b, n_boot, seed=seed))
        rows.append(row)
    return rows


def _number(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


#: The header of ``compare.csv`` (docs/report.md).
COMPARE_COLUMNS = ("metric", "a", "b", "diff", "ci95_low", "ci95_high", "p_value", "test", "n_samples", "resamples",
                   "seed", "run_a", "run_b", "label_a", "label_b", "interval_note")


def compare_csv(rows: Sequence[dict[str, Any]], a: RunRecord, b: RunRecord, n_boot: int, seed: int,
                folder: Path) -> str:
    """``compare.csv``: ``metric,a,b,diff,ci95_low,ci95_high,p_value,test,n_samples,resamples,seed,run_a,run_b,
    label_a,label_b,interval_note`` (interval bounds empty, and ``interval_note`` saying why, when
    ``n_boot`` is below :data:`vssleval.metrics.resampling.MIN_RESAMPLES`; for a metric that is not
    comparable, ``test`` is ``not comparable``, the bounds and p-value are empty and
    ``interval_note`` gives the reason). ``run_a`` / ``run_b``: the run folders relative to ``folder``,
    where the file goes (:func:`vssleval.shown_paths.in_folder`)."""
    lines: list[list[Any]] = [list(COMPARE_COLUMNS)]
    n = len(_ids(a))
    why = resampling.too_few_resamples(n_boot) or ""
    paths = [in_folder(a.path, folder), in_folder(b.path, folder)]
    for r in rows:
        if r.get("not_comparable"):
            lines.append([r["metric"], *(repr(float(r[k])) for k in ("a", "b", "diff")), "", "", "", "not comparable",
                          n, n_boot, seed, *paths, a.label, b.label, r["not_comparable"]])
            continue
        test = "exact permutation" if r["exact"] else f"permutation ({n_boot} random swaps)"
        ci = ["", ""] if why else [repr(float(r["ci95_low"])), repr(float(r["ci95_high"]))]
        lines.append([r["metric"], *(repr(float(r[k])) for k in ("a", "b", "diff")), *ci, repr(float(r["p_value"])),
                      test if n_boot else "none", n, n_boot, seed, *paths, a.label, b.label, why])
    return csv_text(lines)


def console_lines(rows: Sequence[dict[str, Any]], a: RunRecord, b: RunRecord, n_boot: int | None = None) -> list[str]:
    """The comparison as printed: a header, one line per metric, and one line saying why the
    intervals are ``n/a`` when ``n_boot`` is below :data:`vssleval.metrics.resampling.MIN_RESAMPLES`."""
    lines = [f"B - A on {len(_ids(a))} samples of {visible(a.run.get('dataset'))}: A = {visible(a.label)} "
             f"({visible(for_console(a.path))}), B = {visible(b.label)} ({visible(for_console(b.path))})"]
    width = max(len(r["label"]) for r in rows) if rows else 8
    for r in rows:
        if r.get("not_comparable"):
            lines.append(f"  {r['label']:<{width}}  A {r['a']:.3f}  B {r['b']:.3f}  not comparable: "
                         f"{visible(r['not_comparable'])}")
            continue
        ci = (f"[{r['ci95_low']:+.3f}, {r['ci95_high']:+.3f}]" if np.isfinite(r["ci95_low"]) else "[n/a]")
        p = f"p = {r['p_value']:.4g}{' (exact)' if r['exact'] else ''}" if np.isfinite(r["p_value"]) else "p n/a"
        lines.append(f"  {r['label']:<{width}}  A {r['a']:.3f}  B {r['b']:.3f}  B-A {r['diff']:+.3f} {ci}  {p}")
    why = resampling.too_few_resamples(n_boot) if n_boot is not None else None
    if why:
        line = f"  interval n/a: {why}"
        if n_boot and rows and not any(r["exact"] for r in rows):
            line += f"; the p-values rest on {n_boot} random swaps (none can be below {1 / (1 + n_boot):.3g})"
        lines.append(line)
    return lines
