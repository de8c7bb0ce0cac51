"""What every ``prepare`` converter shares: per-record outcomes, the closing summary and its CSV
lists, the parallel loop with its progress bar, and atomic placement of files.

Resumability comes from two rules: every output file is written atomically (a temporary name, then
a rename), so a file that exists is complete; and a record whose output files all exist is
"already present" and is neither read nor rewritten. An interrupted run can leave only temporary
files behind, which the next run removes.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tqdm import tqdm

from vssleval.data.checks import Skip, inside_folder, skips_csv
from vssleval.errors import VsslevalError
from vssleval.io_utils import atomic_path, ensure_output_dir, write_text_atomic

#: Outcome statuses, in summary order.
PREPARED, PRESENT, MISSING, BAD = "prepared", "present", "missing", "bad"
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
        for o in self.ids(BAD)[:10]:
            lines.append(f"    {o.id}: {o.reason} ({o.path})")
        if counts[BAD] > 10:
            lines.append(f"    ... {counts[BAD] - 10:,} more in {self.out / BAD_CSV}")
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


def prepare_out(out: str | os.PathLike, folders: Iterable[str]) -> Path:
    """Create the output folder and its media ``folders``; remove temporary files an interrupted
    run left in them (:func:`vssleval.io_utils.atomic_path` names them ``.<name>.<random>.tmp``)."""
    root = ensure_output_dir(out)
    for name in folders:
        folder = ensure_output_dir(root / name, "output folder")
        for stale in folder.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    return root


def safe_target(root: Path, folder: str, name: str) -> Path | None:
    """``root/folder/name``, or None when ``name`` (an id from an annotation file) would put the file
    outside ``root`` (``../x``, an absolute path): such a record is refused, never written."""
    path = root / folder / name
    if os.path.isabs(name) or not inside_folder(path, [Path(os.path.realpath(root / folder))]):
        return None
    return path


def escape_outcome(record_id: str, root: Path) -> Outcome:
    return Outcome(record_id, BAD, "path_escape", str(root),
                   "the id would name a file outside the output folder; fix the annotation file")


def place_file(src: Path, dst: Path) -> None:
    """Put a copy of ``src`` at ``dst`` atomically: a hard link where the file system allows it (no
    second copy on disk), else a byte copy."""
    with atomic_path(dst, size_hint=src.stat().st_size) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


def place_metadata(src: Path, out: Path, name: str, reader_names: Sequence[str]) -> str:
    """Put annotation file ``src`` in ``out`` under ``name`` unless the reader would already find the
    same content there; returns a note. A *different* file where the reader looks first is an error
    (the reader would silently keep reading the old one)."""
    for candidate in reader_names:
        existing = out / candidate
        if existing.is_file():
            if existing.resolve() == src.resolve() or existing.read_bytes() == src.read_bytes():
                return f"annotation file {existing} already in place"
            raise VsslevalError(f"{existing} differs from the annotation file {src}; the dataset reader would "
                                f"read {existing}. Remove or rename it, or pass --annotation {existing}")
    place_file(src, out / name)
    return f"annotation file copied from {src} to {out / name}"
