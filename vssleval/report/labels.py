"""The name of each run in every table, figure and line of a report (docs/report.md, "Run labels").

A table row is a run, never a model name: two runs of one model (two presets, two checkpoints, two
``--model-file`` plug-ins whose classes share a name, or just two folders) get two rows whose
labels say what tells them apart. :func:`run_labels` is the one rule; the cross-run ``report.md``,
its figures, ``summary.csv``, the leaderboards and ``--compare`` all take their labels from it.

The rule, for the runs sharing a model name:

1. *configuration*: the fields in :data:`CONFIG_FIELDS` (dataset, preset, protocol, checkpoint
   file, checkpoint content) are added, one at a time and in that order, to the labels of the runs
   that still share a label, wherever they differ among those runs;
2. *identity*: runs that still share a label (and the fields the table shows in columns of its
   own) are told apart by their folder name, then by the shortest end of their full paths that
   differs.

A label depends only on the set of runs, never on their order, so the same runs get the same
labels however they are listed. Two runs never share a label (with the shown fields), so nothing
keyed by label can drop or merge a run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from vssleval.errors import VsslevalError

#: Hex digits of a checkpoint's sha256 that tell two checkpoints of one file name apart (docs/report.md).
SHA_DIGITS = 12

#: ``(field, how a label names it)``, in the order they qualify a model name.
CONFIG_FIELDS: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("dataset", lambda run: f"dataset {run.get('dataset')}"),
    ("preset", lambda run: f"preset {run.get('preset')}"),
    ("protocol", lambda run: f"protocol {run.get('protocol')}"),
    ("checkpoint", lambda run: f"checkpoint {Path(str(run['checkpoint'])).name}" if run.get("checkpoint")
     else "no checkpoint"),
    ("checkpoint_sha256", lambda run: f"checkpoint sha256 {str(run['checkpoint_sha256'])[:SHA_DIGITS]}"
     if run.get("checkpoint_sha256") else "checkpoint sha256 unknown"),
)


def check_distinct(paths: Sequence[str | Path]) -> None:
    """Refuse a run folder given twice (also through a symlink or another spelling of its path):
    it would be one run in two rows."""
    seen: dict[Path, str | Path] = {}
    for p in paths:
        if not isinstance(p, (str, os.PathLike)):
            raise VsslevalError(f"a run folder is a path, not {type(p).__name__} {p!r}")
        key = Path(p).resolve()
        if key in seen:
            raise VsslevalError(f"the run folder {key} is given twice (as {seen[key]} and {p}): list each run once")
        seen[key] = p


def run_labels(models: Sequence[str], runs: Sequence[Mapping[str, Any]], paths: Sequence[str | Path],
               shown: Sequence[str] = ()) -> list[str]:
    """The label of each run (same order as the inputs).

    Args:
        models: each run's model name. runs: each run's ``run`` block (``metrics.json``).
        paths: each run's folder (``report`` and ``--compare`` refuse one folder given twice,
            :func:`check_distinct`; runs loaded twice by hand that share all of the above are
            numbered in the order given, the one case where the order shows).
        shown: configuration fields the table shows in columns of its own (the leaderboard's
            ``dataset`` column groups): they are left out of the labels, and two runs may share a
            label when these fields tell them apart.

    Examples:
    >>> run_labels(["a", "a", "b"], [{"preset": "x"}, {"preset": "y"}, {"preset": "x"}], ["r1", "r2", "r3"])
    ['a (preset x)', 'a (preset y)', 'b']
    >>> run_labels(["a", "a"], [{}, {}], ["runs/one", "runs/two"])
    ['a (one)', 'a (two)']
    """
    if not len(models) == len(runs) == len(paths):
        raise ValueError("models, runs and paths must have one entry per run")
    parts: list[list[str]] = [[] for _ in models]
    fields = [(k, name) for k, name in CONFIG_FIELDS if k not in shown]
    for key, name in fields:  # 1. configuration, among the runs that still share a label
        for group in _sharing(models, parts, runs, ()):
            words = {i: name(runs[i]) for i in group}
            if len(set(words.values())) > 1:
                for i in group:
                    parts[i].append(words[i])
    for group in _sharing(models, parts, runs, shown):  # 2. identity: the folder name
        for i in group:
            parts[i].append(_folder(paths[i]))
    for group in _sharing(models, parts, runs, shown):  # same folder names: the end of the path
        ends = _distinct_ends([Path(paths[i]).resolve() for i in group])
        for i, end in zip(group, ends):
            parts[i][-1] = end
    for group in _sharing(models, parts, runs, shown):  # a model named like another's label: the full path
        for i in group:
            parts[i][-1] = str(Path(paths[i]).resolve())
    for group in _sharing(models, parts, runs, shown):  # one folder loaded twice (API only): by position
        for k, i in enumerate(group):
            parts[i].append(f"#{k + 1}")
    return [_join(models[i], parts[i]) for i in range(len(models))]


def _join(model: str, parts: Sequence[str]) -> str:
    return f"{model} ({', '.join(parts)})" if parts else model


def _sharing(models: Sequence[str], parts: Sequence[Sequence[str]], runs: Sequence[Mapping[str, Any]],
             shown: Sequence[str]) -> list[list[int]]:
    """Groups (of two runs or more) of the runs whose label, and shown fields, are the same.

    Grouped by the label text, so a model whose name reads like another's qualified label (a
    model named ``a (preset x)``) is told apart as well."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, model in enumerate(models):
        key = (_join(model, parts[i]), *(str(runs[i].get(k)) for k in shown))
        groups.setdefault(key, []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def _folder(path: str | Path) -> str:
    """The folder's name as given (its resolved name for ``.`` and the like)."""
    return Path(path).name or Path(path).resolve().name or str(Path(path).resolve())


def _distinct_ends(paths: Sequence[Path]) -> list[str]:
    """The shortest ends of ``paths`` (last k parts, the same k for all) that differ."""
    longest = max(len(p.parts) for p in paths)
    for k in range(1, longest + 1):
        ends = ["/".join(p.parts[-k:]) for p in paths]
        if len(set(ends)) == len(ends):
            return ends
    return [str(p) for p in paths]  # distinct paths always differ in some end; kept for safety
