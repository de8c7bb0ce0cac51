"""What every ``prepare`` converter shares: per-record outcomes, the closing summary and its CSV
lists, the parallel loop with its progress bar, and the metadata files' placement (the media
files' placement rule is :mod:`vssleval.data.prepare.place`).

Resumability comes from two rules: every output file is written atomically (a temporary name, then
a rename), so a file that exists is complete; and a record whose output files all exist as
trusted files (non-empty regular files, :func:`trusted_output`) is "already present" and is
neither read nor rewritten. An interrupted run can leave only temporary files behind, which the
next run removes.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ParamSpec, Sequence, TypeVar

from tqdm import tqdm

from vssleval.data.checks import Skip, skips_csv
from vssleval.data.prepare.place import (PlaceError, copy_file, open_source, prepare_out, refuse_overlap, target,
                                         trusted_output, write_output)
from vssleval.errors import VsslevalError
from vssleval.io_utils import NoRoomError, write_text_atomic

P, R = ParamSpec("P"), TypeVar("R")
__all__ = ["BAD", "MISSING", "PREPARED", "PRESENT", "Outcome", "Summary", "copy_file", "failed", "place_extra",
           "place_metadata", "prepare_out", "refuse_overlap", "rerun_advice", "run_items", "target",
           "trusted_output", "write_output"]

#: Outcome statuses, in summary order.
PREPARED, PRESENT, MISSING, BAD = "prepared", "present", "missing", "bad"
#: Unreadable records the summary names one by one (the rest are counted; all are in bad.csv).
SHOWN_BAD = 10
STATUS_WORDS = {PREPARED: "prepared", PRESENT: "already present", MISSING: "missing input", BAD: "unreadable input"}
MISSING_CSV, BAD_CSV = "missing.csv", "bad.csv"


@dataclass(frozen=True)
class Outcome:
    """What happened to one record: ``status`` (prepared / present / missing / bad); for missing and
    bad ones the category ``kind``, the file concerned (or the folder searched) and why."""

    id: str
    status: str
    kind: str = ""
    path: str = ""
    reason: str = ""

    def as_skip(self) -> Skip:
        return Skip(self.id, self.path, self.reason, self.kind)


@dataclass
class Summary:
    """The result of one ``prepare`` run, in annotation order. ``notes`` are run-level remarks
    (metadata copied or derived, lists written)."""

    dataset: str
    out: Path
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)

    def ids(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def counts(self) -> dict[str, int]:
        """``{status: count}`` for every status (zeros included)."""
        c = Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUS_WORDS}

    @property
    def exit_code(self) -> int:
        """0 when everything found was prepared (missing inputs are normal), 1 when some input was
        unreadable."""
        return 1 if self.ids(BAD) else 0

    def write_lists(self) -> tuple[Path, Path]:
        """Write ``missing.csv`` and ``bad.csv`` (columns ``id,kind,path,reason``; a header only when
        empty, so a stale list from an earlier run never survives) into the output folder."""
        paths = self.out / MISSING_CSV, self.out / BAD_CSV
        for path, status in zip(paths, (MISSING, BAD)):
            write_text_atomic(path, skips_csv(o.as_skip() for o in self.ids(status)))
        return paths

    def text(self) -> str:
        """The closing summary: one line per status, the kinds of the missing and bad records, the
        first few bad ones by name, and the notes."""
        counts = self.counts
        width = max(len(w) for w in STATUS_WORDS.values())
        lines = [f"prepare {self.dataset}: {len(self.outcomes):,} records -> {self.out}"]
        for status, word in STATUS_WORDS.items():
            line = f"  {word:<{width}}  {counts[status]:>7,}"
            kinds = Counter(o.kind for o in self.ids(status) if o.kind)
            if kinds:
                line += "  (" + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()) + ")"
            if status in (MISSING, BAD) and counts[status]:
                line += f"  -> {self.out / (MISSING_CSV if status == MISSING else BAD_CSV)}"
            lines.append(line)
        for o in self.ids(BAD)[:SHOWN_BAD]:
            lines.append(f"    {o.id}: {o.reason} ({o.path})")
        if counts[BAD] > SHOWN_BAD:
            lines.append(f"    ... {counts[BAD] - SHOWN_BAD:,} more in {self.out / BAD_CSV}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def run_items(items: Sequence, work: Callable[..., Outcome], workers: int, desc: str,
              progress: bool = True) -> list[Outcome]:
    """``work(item)`` for every item, in ``workers`` processes (0 or 1: this process), with a tqdm
    bar; the outcomes come back in the order of ``items``. ``work`` must be a picklable module-level
    function (or a ``functools.partial`` of one)."""
    if not items:
        return []
    bar = tqdm(total=len(items), desc=desc, unit="rec", disable=not progress, leave=False)
    try:
        if workers <= 1:
            out = []
            for item in items:
                out.append(work(item))
                bar.update()
            return out
        results: dict[int, Outcome] = {}
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(work, item): i for i, item in enumerate(items)}
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                bar.update()
        return [results[i] for i in range(len(items))]
    finally:
        bar.close()


def failed(record_id: str, exc: PlaceError) -> Outcome:
    """The *unreadable input* outcome of a record whose file could not be read or written."""
    return Outcome(record_id, BAD, exc.kind, exc.path, exc.reason)


#: What a full disk during ``prepare`` advises (prepare has no ``--resume``: a rerun skips what is done).
PREPARE_AGAIN = "run the same prepare command again; finished files are kept"


def rerun_advice(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a converter so a full disk's message advises running the same ``prepare`` command again
    (:class:`vssleval.io_utils.NoRoomError` names ``--resume`` by default, which prepare lacks)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except NoRoomError as exc:
            raise exc.advise(PREPARE_AGAIN) from exc.__cause__

    return wrapper


def place_metadata(src: Path, out: Path, name: str, reader_names: Sequence[str]) -> str:
    """Put annotation file ``src`` in ``out`` under ``name`` unless the reader would already find the
    same content there in a trusted file (:func:`trusted_output`); returns a note. A *different*
    file where the reader looks first is an error (the reader would silently keep reading the old
    one). A link to the same content, or an empty file, there is replaced by a fresh copy."""
    try:
        content = read_source_bytes(src)
    except PlaceError as exc:
        raise VsslevalError(f"cannot read the annotation file {src}: {exc.reason}; give a readable file") from exc
    for candidate in reader_names:
        existing = out / candidate
        if not os.path.isfile(existing):
            continue  # the reader skips it too (absent, a dangling link, a folder)
        try:
            same = read_source_bytes(existing) == content
        except PlaceError:
            same = False
        if same and trusted_output(existing):
            return f"annotation file {existing} already in place"
        if not same and os.path.getsize(existing) > 0:
            raise VsslevalError(f"{existing} differs from the annotation file {src}; the dataset reader would "
                                f"read {existing}. Remove or rename it, or pass --annotation {existing}")
        name = candidate  # a link or an empty file where the reader looks: replaced by a fresh copy
        break
    try:
        write_output(out / name, content)
    except PlaceError as exc:
        raise VsslevalError(f"cannot write {out / name}: {exc.reason}; remove what is in the way") from exc
    return f"annotation file copied from {src} to {out / name}"


def place_extra(src: Path, dst: Path, what: str) -> None:
    """Copy a metadata file (class-files dict, box file, test list) to ``dst`` as a fresh file; a
    source or destination that fails is an error naming both (these files concern every record)."""
    try:
        copy_file(src, dst)
    except PlaceError as exc:
        raise VsslevalError(f"cannot copy the {what} {src} to {dst}: {exc.reason} ({exc.path})") from exc


def read_source_bytes(path: Path) -> bytes:
    """All bytes of a (small) source file, read through symlinks (:func:`open_source`)."""
    fd = open_source(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        raise PlaceError("unreadable_source", path, f"the file cannot be read ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
