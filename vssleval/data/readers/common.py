"""Pieces every layout reader shares: locating and parsing metadata files, the reader result."""

from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from vssleval.data.boxes import BoxError
from vssleval.data.checks import SkipLog, check_inside, check_sample_files, data_roots, name_key
from vssleval.data.types import Sample
from vssleval.errors import BadSampleError, VsslevalError


@dataclass
class ReaderContext:
    """What a reader needs besides its config: the dataset root, file checking, the skip log."""

    root: Path
    check_files: bool = True
    log: SkipLog = field(default_factory=SkipLog)
    #: ``(path, what)`` of every metadata file the reader found, in the order read: the run's
    #: fingerprint hashes them (vssleval/fingerprint.py; docs/report.md)
    metadata: list[tuple[Path, str]] = field(default_factory=list)
    _roots: list[Path] | None = field(default=None, repr=False)

    def find_metadata(self, names: str | Iterable[str], what: str, required: bool = True) -> Path | None:
        """:func:`find_metadata` under the data folder, remembering the file found in :attr:`metadata`."""
        path = find_metadata(self.root, names, what, required)
        if path is not None:
            self.metadata.append((path, what))
        return path

    def check_inside(self, sample_id: str, path: Path, what: str) -> None:
        """Raise :class:`BadSampleError` unless ``path`` resolves inside the data folder (symlinked
        data folder and symlinked top-level folders allowed: docs/datasets.md §8)."""
        if self._roots is None:
            self._roots = data_roots(self.root)
        check_inside(sample_id, path, self.root, self._roots, what)


@dataclass
class LayoutResult:
    """A reader's output: samples in annotation order, the offscreen class → file-root dict, notes."""

    samples: list[Sample]
    class_files: dict[str, list[str]]
    notes: list[str] = field(default_factory=list)


def as_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def find_metadata(root: Path, names: str | Iterable[str], what: str, required: bool = True) -> Path | None:
    """First of ``names`` that exists under ``root`` (names may also be absolute paths).

    Raises:
        VsslevalError: if none exists and ``required``; the message lists where it looked and how to
            obtain the file.
    """
    candidates = [Path(n) if Path(n).is_absolute() else root / n for n in as_list(names)]
    for path in candidates:
        if path.is_file():
            return path
    if not required:
        return None
    looked = ", ".join(str(p) for p in candidates) or "(no file name configured)"
    raise VsslevalError(
        f"{what} not found; looked for {looked}. Put the file at the dataset root, or run "
        f"`vssleval fetch-metadata` to download public metadata (see `vssleval datasets`).")


def load_json(path: Path, what: str) -> Any:
    """Parse a JSON metadata file, turning parse errors into a message that names the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VsslevalError(f"{what} {path} is not valid JSON ({exc}); re-download or fix it") from exc
    except RecursionError:  # e.g. "[" * 200000: nesting deeper than the parser's stack
        raise VsslevalError(f"{what} {path} is nested too deeply to parse (more than ~{sys.getrecursionlimit()} "
                            f"levels of lists/objects); an annotation file is a flat list of records: "
                            f"re-download or fix it") from None


def load_json_list(path: Path, what: str, keys: tuple[str, ...] = ()) -> list:
    """A JSON list of records. With ``keys``, a file none of whose records holds all of them has
    the wrong schema (e.g. another dataset's file under a shared name such as ``annotations.json``)
    and is an error naming it; a record that lacks them among good ones is a per-sample problem."""
    data = load_json(path, what)
    if not isinstance(data, list):
        raise VsslevalError(f"{what} {path} must be a JSON list of records, got {type(data).__name__}")
    if keys and data and not any(isinstance(r, dict) and all(k in r for k in keys) for r in data):
        first = repr(data[0])
        raise VsslevalError(f"{what} {path} has the wrong schema: no record has the keys {list(keys)} "
                            f"(first record: {first[:160]}{'...' if len(first) > 160 else ''}). Put the right "
                            "file there, or move this one away if it belongs to another dataset")
    return data


def load_class_files(path: Path) -> dict[str, list[str]]:
    """``{class: [file roots]}`` from a ``*_class_files_dict.json``."""
    data = load_json(path, "class-files dict")
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise VsslevalError(f"class-files dict {path} has the wrong schema: it must map class name -> "
                            "list of file names (roots without extension)")
    return {str(k): [str(x) for x in v] for k, v in data.items()}


def _csv_error(path: Path, exc: Exception) -> VsslevalError:
    """A list that is not UTF-8 CSV text (or holds a field over the csv module's size limit)."""
    what = "is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else "cannot be read as CSV"
    return VsslevalError(f"{path} {what} ({exc}); save it as UTF-8 CSV (one record per line) or re-download it")


def read_id_list(path: Path) -> list[str]:
    """Ids from the first column of a headerless CSV (CRLF or LF; blank lines ignored)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return [row[0].strip() for row in csv.reader(fh) if row and row[0].strip()]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _csv_error(path, exc) from exc


def read_csv_rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV with a header that must contain ``columns``."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise VsslevalError(f"{path}: CSV header lacks column(s) {missing}; expected header "
                                    f"{','.join(columns)}")
            return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _csv_error(path, exc) from exc


def class_files_from_samples(samples: Iterable[Sample]) -> dict[str, list[str]]:
    """Build ``{class: [ids]}`` from the samples' labels (used when no class-files dict exists)."""
    out: dict[str, list[str]] = {}
    for s in samples:
        if s.label and not s.is_negative:
            out.setdefault(s.label, []).append(s.id)
    return out


def box_failure(sample_id: str, path: Path, exc: BoxError) -> BadSampleError:
    return BadSampleError(sample_id, path, f"bad box in annotation: {exc}",
                          "Fix or remove this record in the annotation file", kind="bad_box")


def admit(ctx: ReaderContext, sample: Sample, out: list[Sample]) -> None:
    """Append ``sample`` to ``out`` after the path and file checks; a bad sample goes to the skip log.

    The paths are checked to lie inside the data folder even when ``check_files`` is off, so no
    annotation can make a run read a file outside ``--data-dir``.
    """
    try:
        ctx.check_inside(sample.id, sample.image_path, "image")
        ctx.check_inside(sample.id, sample.audio_path, "audio")
        if ctx.check_files:
            check_sample_files(sample.id, sample.image_path, sample.audio_path)
    except BadSampleError as exc:
        ctx.log.bad(exc)
        return
    out.append(sample)


def unique_ids(samples: list[Sample], source: Path) -> None:
    """Refuse a load where two samples share an id, or where two different ids name one image file
    (:func:`same_file_ids`)."""
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise VsslevalError(f"{source}: sample id {s.id!r} appears twice; ids must be unique")
        seen.add(s.id)
    same_file_ids(samples, source)


def same_file_ids(samples: list[Sample], source: Path) -> None:
    """Refuse two ids whose image names differ only in letter case or Unicode normalisation when
    they are one file here (a macOS or Windows volume): one record would be scored on the other's
    frame. Only such pairs are compared (``os.path.samefile``), so a folder that tells them
    apart costs nothing."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(name_key(str(s.image_path)), []).append(s)
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.image_path == b.image_path:
                    continue
                try:
                    same = os.path.samefile(a.image_path, b.image_path)
                except OSError:
                    same = False
                if same:
                    raise VsslevalError(
                        f"{source}: sample ids {a.id!r} and {b.id!r} name the same file {a.image_path} on this "
                        "file system, which ignores letter case or Unicode normalisation in names; rename one "
                        "of them (and its files), or keep the dataset on a case-sensitive file system")
