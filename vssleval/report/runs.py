"""Reading finished run directories (``metrics.json`` + ``per_sample.csv``) for cross-run reports.

A run directory is what ``vssleval evaluate`` writes. This module only reads the metric files; the
heatmap store (for the threshold sweep and overlays) is opened by the command layer, which owns the
engine. Every problem with a run directory is a :class:`~vssleval.errors.VsslevalError` whose
message names the file at fault.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vssleval import fingerprint as fp
from vssleval.errors import VsslevalError
from vssleval.report.labels import run_labels
from vssleval.metrics.protocols import PROTOCOLS

from vssleval.vocabulary import NEGATIVES
#: Run-configuration keys that must agree for runs to share one table (key, words for messages);
#: whether runs read the same data is decided by their fingerprints (:func:`data_groups`), not by
#: the name of their data folder.
COMPARABLE_KEYS = (("protocol", "protocol"), ("dataset", "dataset"), ("preset", "preset"),
                   ("data_root", "data"))
_RUN_REQUIRED = ("model_name", "dataset", "preset", "protocol")
#: ``per_sample.csv`` columns that hold text, not numbers.
#: Characters of a run label kept in its file name (overlays/<slug>.png; docs/report.md).
SLUG_CHARS = 60
TEXT_COLUMNS = ("sample_id", "label")
#: Columns that must be numbers (the scalars of a protocol's records); other columns that hold text
#: are breakdown columns (``size_bin``, a split's part) and are kept as strings.
NUMERIC_PREFIXES = ("max_", "min_", "conf_", "iou_", "pia_", "area", "nonfinite_", "mapiou_")
#: a ``pos`` field of a key written before the vocabulary said ``positive`` (vssleval/vocabulary.py)
_OLD_POSITIVE = re.compile(r"(^|_)pos(?=_|$)")


def current_name(key: str) -> str:
    """A metric key or column of an older run under today's spelling (``max_pos`` -> ``max_positive``);
    vssl_eval's own key names (capitalised, e.g. ``F_Pos_Neg``) are left as they are."""
    return _OLD_POSITIVE.sub(r"\1positive", key)


@dataclass
class RunRecord:
    """One evaluated run, as the report sees it.

    Attributes:
        path: the run directory. metrics: ``metrics.json`` as a dict. run: its ``run`` block.
        columns: ``per_sample.csv`` as ``{column: float64 array}`` (``sample_id``, ``label`` as str arrays).
        label: a short name unique within one report (set by :func:`assign_labels`).
    """

    path: Path
    metrics: dict[str, Any]
    columns: dict[str, np.ndarray]
    label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def run(self) -> dict[str, Any]:
        return self.metrics["run"]

    @property
    def model(self) -> str:
        return str(self.run["model_name"])

    @property
    def protocol(self) -> str:
        return str(self.run["protocol"])

    @property
    def baseline(self) -> bool:
        """An audio-agnostic reference run (its model YAML says ``baseline: true``)."""
        return bool(self.run.get("baseline"))

    @property
    def negatives(self) -> list[str]:
        return [v for v in NEGATIVES if f"max_{v}" in self.columns]

    def maxima(self, variant: str, seed_index: int | None = None) -> np.ndarray:
        """Raw-map maxima of ``variant`` (``pos``/``silence``/``noise``/``offscreen``), finite only,
        over every (seed, sample) row or one seed's rows."""
        v = self.columns[f"max_{variant}"]
        if seed_index is not None:
            v = v[self.columns["seed_index"] == seed_index]
        return v[np.isfinite(v)]

    def negative_maxima(self) -> np.ndarray:
        """Maxima of every negative variant pooled (one entry per seed x sample x variant)."""
        parts = [self.maxima(v) for v in self.negatives]
        return np.concatenate(parts) if parts else np.empty(0)

    @property
    def slug(self) -> str:
        """The label as a file name: its safe characters (at most :data:`SLUG_CHARS`), and a hash of the label when
        anything was changed or cut, so two labels never share a file and no name is too long."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.label).strip("._")[:SLUG_CHARS]
        if safe and safe == self.label:
            return safe
        return f"{safe or 'run'}-{hashlib.sha256(self.label.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def load_run(path: str | Path) -> RunRecord:
    """Read a run directory; raise :class:`VsslevalError` naming the missing or malformed file."""
    root = Path(path)
    if not root.is_dir():
        raise VsslevalError(f"run directory not found: {root} (give the --out folder of `vssleval evaluate`)")
    mpath = root / "metrics.json"
    if not mpath.is_file():
        raise VsslevalError(f"{mpath} is missing: {root} is not a finished run (run `vssleval evaluate "
                            f"... --out {root}`, or `vssleval rescore {root} --out {root}` "
                            "if only the heatmap store is there)")
    try:
        metrics = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VsslevalError(f"{mpath} is not valid JSON ({exc}); the run may have been interrupted: "
                            "rerun it, or rebuild it with `vssleval rescore`") from exc
    if isinstance(metrics, dict):
        metrics = {current_name(k): v for k, v in metrics.items()}
    if not isinstance(metrics, dict) or not isinstance(metrics.get("run"), dict):
        raise VsslevalError(f"{mpath} has no 'run' block; it was not written by `vssleval evaluate`")
    missing = [k for k in _RUN_REQUIRED if not metrics["run"].get(k)]
    if missing:
        raise VsslevalError(f"{mpath}: the 'run' block lacks {missing}")
    if metrics["run"]["protocol"] not in PROTOCOLS:
        raise VsslevalError(f"{mpath}: protocol {metrics['run']['protocol']!r} is not one this vssleval knows "
                            f"({', '.join(PROTOCOLS)}); report it with the version that wrote it")
    columns = _read_per_sample(root / "per_sample.csv")
    rec = RunRecord(root, metrics, columns, label=str(metrics["run"]["model_name"]))
    _check_consistent(rec)
    return rec


def _read_per_sample(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise VsslevalError(f"{path} is missing: the run is incomplete (rerun `vssleval evaluate`, or "
                            "rebuild its outputs with `vssleval rescore`)")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [r for r in reader if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise VsslevalError(f"cannot read {path}: {exc}") from exc
    if not header:
        raise VsslevalError(f"{path} is empty: the run is incomplete")
    header = [current_name(h) for h in header]
    need = [c for c in ("seed_index", "sample_id", "max_positive") if c not in header]
    if need:
        raise VsslevalError(f"{path} lacks the columns {need}; it was not written by `vssleval evaluate` "
                            f"(protocol {' or '.join(PROTOCOLS)})")
    bad = [i + 2 for i, r in enumerate(rows) if len(r) != len(header)]
    if bad:
        raise VsslevalError(f"{path}: line(s) {bad[:5]} have the wrong number of fields (truncated file?)")
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        col = [r[j] for r in rows]
        if name in TEXT_COLUMNS:
            out[name] = np.array(col, dtype=str)
            continue
        try:
            out[name] = np.array([float(x) if x != "" else np.nan for x in col], dtype=np.float64)
        except ValueError as exc:
            if name == "seed_index" or name.startswith(NUMERIC_PREFIXES):
                raise VsslevalError(f"{path}: column {name!r} holds a non-number ({exc})") from exc
            out[name] = np.array(col, dtype=str)  # a breakdown column (size bin, split part)
    return out


def _check_consistent(rec: RunRecord) -> None:
    n_seeds = rec.metrics.get("n_seeds")
    n_samples = rec.metrics.get("n_samples")
    rows = len(rec.columns["sample_id"])
    if isinstance(n_seeds, int) and isinstance(n_samples, int) and rows != n_seeds * n_samples:
        raise VsslevalError(f"{rec.path / 'per_sample.csv'} has {rows} rows but {rec.path / 'metrics.json'} "
                            f"reports {n_seeds} seeds x {n_samples} samples; the two files come from "
                            "different runs or one is truncated")


def labels_for(runs: Sequence[RunRecord], shown: Sequence[str] = ()) -> list[str]:
    """Each run's label by the one rule of :func:`vssleval.report.labels.run_labels` (``shown``:
    configuration fields the table gives columns of their own, e.g. the leaderboard's dataset)."""
    return run_labels([r.model for r in runs], [r.run for r in runs], [r.path for r in runs], shown)


def assign_labels(runs: Sequence[RunRecord]) -> None:
    """Give every run its label in this set of runs (unique, whatever the order of ``runs``): the
    model name, qualified by what tells runs of the same model apart (docs/report.md, "Run labels")."""
    for r, label in zip(runs, labels_for(runs)):
        r.label = label


def _fingerprint(run: RunRecord) -> Any:
    return run.metrics.get("fingerprint")


def data_groups(runs: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """The runs grouped by the data they read, each group named for messages.

    The one decision of "same data" for ``report`` and ``report --compare``: when every run carries
    a fingerprint (``metrics.json["fingerprint"]``, vssleval/fingerprint.py), runs are grouped by
    its data digest (the same metadata files, records, ground truth and media bytes), whichever
    folder they read them from. When some run lacks one (written by an older vssleval), runs are
    grouped by their data folder, as before fingerprints existed (:func:`data_note` says so), except
    that fingerprinted runs of one folder whose digests differ stay apart (and a run without a
    fingerprint in that folder joins none of them: nothing says which data it read).
    """
    keys = {id(r): fp.data_key(_fingerprint(r)) for r in runs}
    names = _names_by_fingerprint(runs, keys) if all(keys.values()) else _names_by_folder(runs, keys)
    groups: dict[str, list[RunRecord]] = {}
    for r in runs:
        groups.setdefault(names[id(r)], []).append(r)
    return groups


def _root(run: RunRecord) -> str:
    return str(run.run.get("data_root"))


def _names_by_fingerprint(runs: Sequence[RunRecord], keys: dict[int, str | None]) -> dict[int, str]:
    """Each run's group name: the folders its data was read from, and the data digest."""
    folders: dict[str | None, set[str]] = {}
    for r in runs:
        folders.setdefault(keys[id(r)], set()).add(_root(r))
    return {id(r): f"{', '.join(sorted(folders[keys[id(r)]]))} (data {str(keys[id(r)])[:fp.SHORT]})" for r in runs}


def _names_by_folder(runs: Sequence[RunRecord], keys: dict[int, str | None]) -> dict[int, str]:
    """Each run's group name when some run has no fingerprint: its data folder, plus the data digest
    where fingerprinted runs of that folder read different data."""
    digests: dict[str, set[str]] = {}
    for r in runs:
        if keys[id(r)]:
            digests.setdefault(_root(r), set()).add(str(keys[id(r)]))
    return {id(r): (f"{_root(r)} (data {str(keys[id(r)])[:fp.SHORT]})"
                    if keys[id(r)] and len(digests[_root(r)]) > 1 else _root(r)) for r in runs}


def data_note(runs: Sequence[RunRecord]) -> str | None:
    """The line saying that "same data" was decided by folder names, when some run has no fingerprint."""
    old = [r for r in runs if fp.data_key(_fingerprint(r)) is None]
    if not old or len(runs) < 2:
        return None
    return (f"{', '.join(f'{r.label} ({r.path})' for r in old)} carr{'ies' if len(old) == 1 else 'y'} no "
            "readable fingerprint of its inputs (written by an older vssleval, or edited): whether the runs read "
            "the same data was decided by their data folders alone")


def same_data(a: RunRecord, b: RunRecord) -> bool:
    """Whether two runs read the same data (:func:`data_groups`)."""
    return len(data_groups([a, b])) == 1


def data_difference(runs: Sequence[RunRecord]) -> str | None:
    """``"data differs: <data> (<runs>); <data> (<runs>)"`` when the runs read different data, else None."""
    groups = data_groups(runs)
    if len(groups) < 2:
        return None
    return f"{dict(COMPARABLE_KEYS)['data_root']} differs: " + _groups_text(groups)


def _groups_text(groups: dict[str, list[RunRecord]]) -> str:
    return "; ".join(f"{value} ({', '.join(f'{r.label}: {r.path}' for r in rs)})" for value, rs in groups.items())


def differences(runs: Sequence[RunRecord]) -> dict[str, dict[str, list[RunRecord]]]:
    """``{key: {value: [runs]}}`` for every comparable key on which the runs disagree (the data:
    :func:`data_groups`)."""
    out: dict[str, dict[str, list[RunRecord]]] = {}
    for key, _ in COMPARABLE_KEYS:
        groups: dict[str, list[RunRecord]] = {}
        if key == "data_root":
            groups = data_groups(runs)
        else:
            for r in runs:
                groups.setdefault(str(r.run.get(key)), []).append(r)
        if len(groups) > 1:
            out[key] = groups
    if "data_root" in out and "dataset" in out:
        # different datasets live in different folders: only worth saying within one dataset
        owner = {id(r): value for value, rs in out["data_root"].items() for r in rs}
        data: dict[str, set[str]] = {}
        for r in runs:
            data.setdefault(str(r.run.get("dataset")), set()).add(owner[id(r)])
        if all(len(v) == 1 for v in data.values()):
            del out["data_root"]
    return out


def check_comparable(runs: Sequence[RunRecord], allow_mixed: bool = False) -> list[str]:
    """Refuse runs that differ in protocol, dataset, preset or data (:func:`data_groups`) unless ``allow_mixed``.

    Returns the lines describing the differences (empty when the runs agree), for the report;
    raises :class:`VsslevalError` listing which run differs in what otherwise.
    """
    diffs = differences(runs)
    words = dict(COMPARABLE_KEYS)
    lines = []
    for key, groups in diffs.items():
        lines.append(f"{words[key]} differs: " + _groups_text(groups))
    if lines and not allow_mixed:
        raise VsslevalError("these runs are not comparable in one table:\n  " + "\n  ".join(lines)
                            + "\nreport them separately, or pass --allow-mixed to put them side by side "
                            "(the tables then name each row's " + ", ".join(words[k] for k in diffs) + ")")
    return lines
