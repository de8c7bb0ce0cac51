"""Metric tables (Markdown and CSV): models x metrics from the ``metrics.json`` of several runs.

Also the pieces the one-run ``report.md`` (:mod:`vssleval.report.single`) shares with them: the
headline columns of each protocol (defined by its protocol object), the value format and the one Markdown table writer (this module
imports nothing of ``single``, so ``single`` can import it).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from vssleval.metrics import resampling
from vssleval.metrics.protocols import get_protocol
from vssleval.report.runs import COMPARABLE_KEYS, RunRecord
from vssleval.report.text import Md, csv_text, md

def headline(protocol: str) -> list[tuple[str, str]]:
    """``(key, label)`` of the headline numbers of ``protocol``, in table order (its protocol object's)."""
    return list(get_protocol(protocol).headline)


def sections(protocol: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The table sections of a protocol (e.g. the two clean tables, or juanola2025's headline as one)."""
    return get_protocol(protocol).sections()




def no_interval_reason(result: Mapping[str, Any]) -> str | None:
    """Why a run's ``metrics.json`` gives no bootstrap intervals (one line), or None when it does.

    No ``bootstrap`` block: evaluated with ``--bootstrap 0``; the block's ``no_intervals``; or, for a
    run written before the minimum existed, too few ``resamples`` (docs/metrics.md §11.1)."""
    boot = result.get("bootstrap")
    if not isinstance(boot, Mapping):
        has_keys = any(str(k).endswith("_ci95_low") for k in result)
        return None if has_keys else "evaluated with --bootstrap 0"
    if boot.get("no_intervals"):
        return str(boot["no_intervals"])
    try:
        return resampling.too_few_resamples(int(boot.get("resamples")), float(boot.get("level", resampling.LEVEL)))
    except (TypeError, ValueError):
        return None


def interval(result: Mapping[str, Any], key: str) -> tuple[float, float] | None:
    """``(low, high)`` of ``key``'s 95 % bootstrap interval when ``result`` holds a finite one made
    of enough resamples (:func:`no_interval_reason`), widened to contain the value of ``key``
    (a run written before intervals were made to contain their estimate may miss it)."""
    lo, hi = result.get(f"{key}_ci95_low"), result.get(f"{key}_ci95_high")
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or no_interval_reason(result):
        return None
    try:
        v = float(result.get(key))
    except (TypeError, ValueError):
        return lo, hi
    return (min(lo, v), max(hi, v)) if math.isfinite(v) else (lo, hi)


def seed_spread(result: Mapping[str, Any], key: str) -> float | None:
    """The std over seeds of ``key`` when it is not zero (a metric of seed-free maps has none)."""
    std = result.get(f"{key}_std")
    try:
        std = float(std)
    except (TypeError, ValueError):
        return None
    return std if math.isfinite(std) and std > 1e-12 else None  # rounding of identical seeds is no spread


def shown_spread(result: Mapping[str, Any], key: str, digits: int = 3) -> float | None:
    """:func:`seed_spread` where it shows at ``digits`` decimals: a spread printed as ``± 0.000``
    says nothing and is left out (docs/report.md, "How values are printed").

    Examples:
    >>> shown_spread({"a_std": 0.0004}, "a"), shown_spread({"a_std": 0.0006}, "a")
    (None, 0.0006)
    """
    std = seed_spread(result, key)
    return std if std is not None and round(std, digits) > 0 else None


def format_value(result: Mapping[str, Any], key: str, style: str = "bracket", digits: int = 3) -> Md:
    """``result[key]`` with its spread, ``n/a`` if absent or not finite.

    ``bracket``: ``0.645 ± 0.004 [0.612, 0.679]``, the ``±`` (std over seeds) only where it does
    not print as zero (:func:`shown_spread`), the brackets (95 % bootstrap interval over samples) where ``metrics.json`` has one;
    ``pm``: the interval's half-width, ``0.645 ± 0.034`` (no seed spread); ``none``: the value.
    The text is Markdown as it is (:class:`vssleval.report.text.Md`: its brackets are no link).

    Examples:
    >>> r = {"ciou": 0.6451, "ciou_std": 0.0, "ciou_ci95_low": 0.6119, "ciou_ci95_high": 0.6792}
    >>> format_value(r, "ciou"), format_value(r, "ciou", "pm"), format_value({"ciou": 0.5}, "ciou")
    ('0.645 [0.612, 0.679]', '0.645 ± 0.034', '0.500')
    """
    v = result.get(key)
    try:
        v = float(v)
    except (TypeError, ValueError):
        return Md("n/a")
    if not math.isfinite(v):
        return Md("n/a")
    text = f"{v:.{digits}f}"
    ci = interval(result, key)
    if style == "pm":
        return Md(text + (f" ± {(ci[1] - ci[0]) / 2:.{digits}f}" if ci else ""))
    if style == "none":
        return Md(text)
    std = shown_spread(result, key, digits)
    if std is not None:
        text += f" ± {std:.{digits}f}"
    return Md(text + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""))


def markdown_grid(header: Sequence[Any], rows: Sequence[Sequence[Any]], left: int | None = 1) -> str:
    """A Markdown table (``header``: column titles; ``rows``: cells, one sequence per row). Every
    cell is text made safe by :func:`vssleval.report.text.md` (a name with ``|``, a newline or
    ``*`` stays one cell showing those characters), except :class:`~vssleval.report.text.Md`
    cells, which are Markdown already. The first ``left`` columns are left-aligned (text), the
    others right-aligned (numbers); ``left=None`` writes plain ``---`` separators (no alignment)."""
    n = len(header)
    if left is None:
        rule = ["---"] * n
    else:
        rule = [":---"] * min(left, n) + ["---:"] * max(0, n - left)
    lines = ["| " + " | ".join(md(h) for h in header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(md(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def run_columns(runs: Sequence[RunRecord], mixed_keys: Sequence[str]) -> list[str]:
    """Identity columns shown before the metrics: the run label plus whatever differs."""
    words = dict(COMPARABLE_KEYS)
    return ["run", *(words.get(k, k) for k in mixed_keys)]


def metric_table(runs: Sequence[RunRecord], columns: Sequence[tuple[str, str]],
                 mixed_keys: Sequence[str] = (), style: str = "bracket") -> str:
    """One Markdown table: a row per run, each metric as :func:`format_value` (``n/a`` if absent)."""
    present = [(k, lab) for k, lab in columns if any(k in r.metrics for r in runs)]
    header = run_columns(runs, mixed_keys) + [lab for _, lab in present]
    rows = []
    for r in runs:
        ident = [r.label] + [str(r.run.get(k)) for k in mixed_keys]
        rows.append(ident + [format_value(r.metrics, k, style) for k, _ in present])
    return markdown_grid(header, rows, left=1 + len(mixed_keys))


#: The header of ``summary.csv`` (docs/report.md).
SUMMARY_COLUMNS = ("run", "model", "dataset", "preset", "protocol", "key", "mean", "std", "ci95_low", "ci95_high")


def summary_csv(runs: Sequence[RunRecord]) -> str:
    """Every headline number of every run as
    ``run,model,dataset,preset,protocol,key,mean,std,ci95_low,ci95_high`` (empty: no interval)."""
    lines: list[list[Any]] = [list(SUMMARY_COLUMNS)]
    for r in runs:
        for _, cols in sections(r.protocol):
            for key, _ in cols:
                if key not in r.metrics:
                    continue
                ci = interval(r.metrics, key)
                lines.append([r.label, r.model, r.run["dataset"], r.run["preset"], r.protocol, key,
                              _num(r.metrics.get(key)), _num(r.metrics.get(f"{key}_std")),
                              *(("", "") if ci is None else (_num(ci[0]), _num(ci[1])))])
    return csv_text(lines)


def _num(v: Any) -> str:
    try:
        return "" if v is None else repr(float(v))
    except (TypeError, ValueError):
        return ""


def protocol_groups(runs: Sequence[RunRecord]) -> Mapping[str, list[RunRecord]]:
    """Runs grouped by protocol (their metric keys differ), in first-seen order."""
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(r.protocol, []).append(r)
    return groups
