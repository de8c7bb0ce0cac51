"""Public metadata that cannot ship with the project, downloaded on explicit request only.

The sources are the ``metadata`` entries of the dataset configs (``file``, ``url``, ``source``). An
entry without ``url`` (e.g. IS3_annotation.json on Google Drive, the Flickr XML annotations) can only
be placed by hand: the error says where it comes from and where it goes. Nothing here runs unless the
user calls ``vssleval fetch-metadata``.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from vssleval import limits
from vssleval.errors import VsslevalError
from vssleval.io_utils import write_bytes_atomic


@dataclass(frozen=True)
class MetadataFile:
    """One metadata file: its name at the dataset root, its download URL (if any) and provenance."""

    file: str
    source: str
    url: str | None = None

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> "MetadataFile":
        return cls(file=str(entry["file"]), source=str(entry.get("source", "")), url=entry.get("url"))


def _download(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https URLs from our configs)
        return resp.read()


def fetch_metadata(entries: Iterable[MetadataFile], dest: str | Path, *, force: bool = False,
                   timeout: float = 30.0) -> list[Path]:
    """Download every entry with a URL into ``dest`` (skipping files already there unless ``force``).

    Returns:
        paths written or already present.

    Raises:
        VsslevalError: for each file that could not be obtained (offline, HTTP error, or no URL):
            names the file, its source and where to put it.
    """
    timeout = limits.check("timeout", timeout, "fetch-metadata")
    dest = Path(dest)
    done, problems = [], []
    for e in entries:
        target = dest / e.file
        if e.file.endswith("/"):
            if not target.is_dir():
                problems.append(f"  {e.file}: cannot be downloaded by script; get it from {e.source} "
                                f"and put it at {target}")
            continue
        if target.is_file() and not force:
            done.append(target)
            continue
        if not e.url:
            problems.append(f"  {e.file}: cannot be downloaded by script; get it from {e.source} and put it at {target}")
            continue
        try:
            data = _download(e.url, timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            problems.append(f"  {e.file}: download failed ({exc}); get it from {e.url} ({e.source}) "
                            f"and put it at {target}")
            continue
        write_bytes_atomic(target, data)
        done.append(target)
    if problems:
        raise VsslevalError("could not obtain metadata:\n" + "\n".join(problems))
    return done
