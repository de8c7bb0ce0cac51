"""How much of a test set a run evaluated: ``n_expected``, ``n_evaluated``, ``n_skipped`` (by kind),
``limited``, and the one line every output shows when a run is partial (docs/report.md).

Computed from the run configuration the engine records (``skipped``: the dataset loader's skip
counts, ``limit``, ``n_samples``), so a report of an older run gets the same keys.
"""

from __future__ import annotations

from typing import Any, Mapping

#: The keys :func:`completeness` adds to ``metrics.json``.
KEYS = ("n_expected", "n_evaluated", "n_skipped", "n_skipped_by_reason", "limited")


def completeness(run: Mapping[str, Any], n_evaluated: int) -> dict[str, Any]:
    """``{n_expected, n_evaluated, n_skipped, n_skipped_by_reason, limited}`` of a run.

    ``n_expected``: records in the annotation file (kept + skipped); ``n_skipped``: records left out
    by ``--skip-bad`` (``n_skipped_by_reason``: counts by kind, e.g. ``missing_audio``);
    ``limited``: ``--limit`` took fewer samples than the dataset held.

    Examples:
    >>> c = completeness({"skipped": {"samples": 2, "records": 10, "by_reason": {"missing_audio": 2}},
    ...                   "limit": 5}, 5)
    >>> c["n_expected"], c["n_evaluated"], c["n_skipped"], c["limited"]
    (10, 5, 2, True)
    """
    skipped = run.get("skipped") if isinstance(run.get("skipped"), Mapping) else {}
    n_skipped = int(skipped.get("samples") or 0)
    n_expected = int(skipped.get("records") or (n_evaluated + n_skipped))
    limit = run.get("limit")
    limited = bool(limit) and int(limit) < n_expected - n_skipped
    return {"n_expected": n_expected, "n_evaluated": int(n_evaluated), "n_skipped": n_skipped,
            "n_skipped_by_reason": {str(k): int(v) for k, v in (skipped.get("by_reason") or {}).items()},
            "limited": limited}


def partial_line(c: Mapping[str, Any]) -> str | None:
    """``"partial: 16 of 100,016 records; 100,000 skipped: missing media 100,000"`` (and ``--limit``),
    or None when every record was evaluated."""
    if not c or c.get("n_evaluated", 0) >= c.get("n_expected", 0):
        return None
    text = f"partial: {c['n_evaluated']:,} of {c['n_expected']:,} records"
    if c.get("n_skipped"):
        reasons = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in (c.get("n_skipped_by_reason") or {}).items())
        text += f"; {c['n_skipped']:,} skipped" + (f": {reasons}" if reasons else "")
    if c.get("limited"):
        text += "; --limit"
    return text


def of_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The completeness of a loaded ``metrics.json`` (its own keys, or computed from its ``run``
    block for a run written before they existed)."""
    if all(k in metrics for k in KEYS):
        return {k: metrics[k] for k in KEYS}
    return completeness(metrics.get("run") or {}, int(metrics.get("n_samples") or 0))
