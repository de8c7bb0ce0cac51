"""The calibration section: a universal threshold per run and its transfer across datasets.

A universal threshold ``t`` on the raw map scale makes a negative map highlight nothing exactly
when its maximum is ``<= t`` (see :mod:`vssleval.metrics.calibration`), so each run's threshold is
calibrated on its positive vs pooled negative maxima (every seed and negative variant), and then
applied unchanged to another run of the same model and preset on another dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from vssleval.metrics import calibrate_threshold, transfer
from vssleval.report.runs import RunRecord, same_data

RULE = "youden"


@dataclass
class Transfer:
    """A threshold calibrated on ``source`` applied to ``target`` (same model and preset)."""

    source: RunRecord
    target: RunRecord
    applied: dict[str, Any]   # transfer(): threshold, tpr, fpr, balanced_accuracy, auroc
    oracle: dict[str, Any]    # the target's own calibration, for comparison


def calibrate_run(run: RunRecord, rule: str = RULE) -> dict[str, Any]:
    """``calibrate_threshold`` on a run's positive vs pooled negative maxima (NaN when no negatives)."""
    return calibrate_threshold(run.maxima("positive"), run.negative_maxima(), rule=rule)


def configured_thresholds(run: RunRecord) -> dict[str, dict[str, Any]]:
    """The model's own universal thresholds (its YAML, recorded in ``metrics.json``) applied to
    this run's maxima: ``{name: transfer(...)}``."""
    th = run.metrics.get("thresholds") or {}
    if not isinstance(th, dict):
        return {}
    out = {}
    for name, value in th.items():
        try:
            t = float(value[0] if isinstance(value, list) else value)
        except (TypeError, ValueError, IndexError):
            continue
        out[str(name)] = transfer(t, run.maxima("positive"), run.negative_maxima())
    return out


def transfers(runs: Sequence[RunRecord], calibrations: dict[str, dict[str, Any]]) -> list[Transfer]:
    """Every ordered pair of runs of the same model and preset on different datasets."""
    out = []
    for a in runs:
        for b in runs:
            if a is b or a.model != b.model or a.run.get("preset") != b.run.get("preset"):
                continue
            if a.run.get("dataset") == b.run.get("dataset") and same_data(a, b):
                continue
            if not b.negatives:
                continue
            t = calibrations[a.label]["threshold"]
            out.append(Transfer(a, b, transfer(t, b.maxima("positive"), b.negative_maxima()), calibrations[b.label]))
    return out
