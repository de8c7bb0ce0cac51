"""How paths are written where people read them (docs/report.md, "Paths in the outputs").

An absolute path names the user's machine (``/home/<user>/...``); a report, a leaderboard or a
console line pasted into an issue should not. Two rules, one function each:

* :func:`in_folder`: in a file meant to be shared (``report.md``, ``leaderboard.*``,
  ``summary.csv``, ``compare.csv``), a path is written relative to the folder holding the file
  (``store``, ``../runs/a``);
* :func:`for_console`: on the console, a path under the current directory is written relative to
  it, any other as it is.

A data folder or a checkpoint, which lies outside every output folder, is named by its last
component (:func:`by_name`). ``metrics.json`` and the store's ``config.json`` keep the full paths:
they are the run's provenance.
"""

from __future__ import annotations

import os
from pathlib import Path


def in_folder(path: str | os.PathLike, folder: str | os.PathLike) -> str:
    """``path`` relative to ``folder`` (POSIX form, ``..`` where it lies outside; ``.`` for the
    folder itself); its name alone when no relative path exists (another drive)."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:
        return by_name(path)
    return Path(rel).as_posix()


def for_console(path: str | os.PathLike) -> str:
    """``path`` relative to the current directory when it lies under it, else as it is."""
    here, full = Path.cwd(), Path(os.path.abspath(path))
    try:
        return str(full.relative_to(here)) if full != here else "."
    except ValueError:
        return str(path)


def by_name(path: str | os.PathLike | None) -> str:
    """The last component of ``path`` (a data folder, a checkpoint), or ``""`` for None."""
    if path is None:
        return ""
    p = Path(path)
    return p.name or Path(os.path.abspath(p)).name or str(p)
