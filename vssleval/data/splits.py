"""Published splits of a test set (e.g. VGG-SS heard / unheard classes) as per-sample membership.

A dataset config may name ``splits``; each split has a title and either ``parts`` (one id-list file
per part at the dataset root, one sample id per line, as EZ-VSL's ``vggss_heard_test.csv``; the
``url`` and ``source`` of each file let ``vssleval fetch-metadata <dataset>-<split>`` download it)
or a ``rule`` computed from the class labels (the synthetic benchmark's own split). See
docs/report.md ("Breakdowns") and docs/datasets.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.data.registry import get_config

#: Class-label rules a split may use instead of id lists (``rule:`` in the dataset config).
RULES = ("alternate_classes",)


def _alternate_classes(labels: Sequence[str], parts: Sequence[str]) -> dict[str, np.ndarray]:
    """Classes sorted by name, dealt to the parts in turn (first class to the first part, ...)."""
    lab = np.asarray([str(x) for x in labels])
    classes = sorted(set(lab.tolist()) - {""})
    owner = {c: parts[i % len(parts)] for i, c in enumerate(classes)}
    return {p: np.array([owner.get(x) == p for x in lab.tolist()], bool) for p in parts}


def _read_ids(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8-sig")
    return {line.strip().split(",")[0] for line in text.splitlines() if line.strip()}


def resolve_splits(dataset: str, data_root: str | Path | None, ids: Sequence[str],
                   labels: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Every split of ``dataset`` for the run's samples ``ids`` (with their class ``labels``).

    Returns ``{split: {'title', 'parts': {part: bool [N]}}}``, or for a split that cannot be
    resolved ``{split: {'title', 'missing': what is missing and how to get it}}``. An unknown
    dataset (a run of a config no longer registered) has no splits.
    """
    try:
        cfg = get_config(dataset)
    except Exception:  # noqa: BLE001 - a report of an old run must not fail on its dataset name
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, spec in (cfg.get("splits") or {}).items():
        title = str(spec.get("title", name))
        rule = spec.get("rule")
        if rule is not None:
            if rule not in RULES or labels is None:
                why = (f"unknown rule {rule!r} (known: {', '.join(RULES)})" if rule not in RULES else
                       "the run's store has no class labels (evaluate the run again with this vssleval)")
                out[name] = {"title": title, "missing": why}
                continue
            out[name] = {"title": title, "parts": _alternate_classes(labels, list(spec.get("parts_order") or
                                                                                 ("heard", "unheard")))}
            continue
        root = Path(data_root) if data_root else None
        files = {part: str(entry["file"]) for part, entry in (spec.get("parts") or {}).items()}
        absent = [f for f in files.values() if root is None or not (root / f).is_file()]
        if absent:
            where = root if root is not None else "the dataset folder"
            out[name] = {"title": title, "missing": (
                f"{', '.join(absent)} not found in {where}; get them with `vssleval fetch-metadata "
                f"{cfg['name']}-{name} --dest {where}` and rebuild the run's outputs with `vssleval "
                f"rescore RUN --out RUN`")}
            continue
        sid = [str(i) for i in ids]
        out[name] = {"title": title,
                     "parts": {part: np.isin(sid, sorted(_read_ids(root / f))) for part, f in files.items()}}
    return out


def split_metadata(name: str) -> list[dict[str, Any]] | None:
    """The metadata entries (``file``, ``url``, ``source``) of ``<dataset>-<split>`` (e.g.
    ``vggss-heard``), or None when ``name`` names no split of a registered dataset."""
    from vssleval.data.registry import list_datasets

    for dataset in sorted(list_datasets(), key=len, reverse=True):
        if not name.startswith(dataset + "-"):
            continue
        spec = (get_config(dataset).get("splits") or {}).get(name[len(dataset) + 1:])
        if spec and spec.get("parts"):
            return [dict(entry) for entry in spec["parts"].values()]
    return None


def membership_by_label(parts: Mapping[str, np.ndarray], labels: Sequence[str]) -> dict[str, list[str]]:
    """Which classes each part holds (for the report's description of a split)."""
    lab = np.asarray([str(x) for x in labels])
    return {p: sorted(set(lab[m].tolist())) for p, m in parts.items()}
