"""Where ``prepare`` reads and how it writes: the one placement rule of every converter
(docs/datasets.md §10, "Placement").

* **Sources are read through.** A source file may be a symlink (users' downloads are often symlink
  farms): its target's bytes are read. A source that cannot give bytes — a dangling link, a link
  loop, a folder, a FIFO or device, a file that cannot be opened — is a :class:`PlaceError` with a
  ``kind``, which the converter turns into a row of ``bad.csv``; it is classified without blocking
  (a FIFO is never opened for a blocking read).
* **Outputs are fresh regular files inside the output folder.** Every file is written by
  :func:`vssleval.io_utils.atomic_path` (a new temporary file beside the target, renamed onto it),
  never as a hard link or symlink to a source, so no later ``chmod`` or write can reach a source or
  any other file. A symlink already at an output path is replaced, not written through. The media
  folders must be real folders inside ``--out`` (:func:`prepare_out`).
* **Existing outputs are trusted only when usable**: a non-empty regular file (not a link) that can
  be opened (:func:`trusted_output`); anything else is prepared again.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Iterable, Sequence

from vssleval.data.checks import fs_folding, inside_folder, name_key, path_limit_problem
from vssleval.errors import VsslevalError
from vssleval.io_utils import NO_FOLLOW, NoRoomError, atomic_path, ensure_output_dir

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: Bytes copied per read.
CHUNK = 1 << 20


class PlaceError(Exception):
    """A record's file that cannot be read or written: ``kind`` (a ``bad.csv`` category), the
    ``path`` concerned and a sentence ``reason``. Picklable, so it crosses ``--workers`` processes."""

    def __init__(self, kind: str, path: str | os.PathLike, reason: str):
        super().__init__(kind, str(path), reason)
        self.kind, self.path, self.reason = kind, str(path), reason


# -- sources ------------------------------------------------------------------------------------
def _source_error(path: Path, exc: OSError) -> PlaceError:
    """``exc`` from opening source ``path`` as a :class:`PlaceError` of the right kind."""
    if exc.errno == errno.ELOOP:
        return PlaceError("link_loop", path, "the file is a symlink loop (a link that leads back to itself)")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(path):
            return PlaceError("dangling_link", path, f"the file is a symlink to {os.readlink(path)}, which does "
                              "not exist")
        return PlaceError("source_vanished", path, "the file disappeared while prepare ran")
    if exc.errno == errno.EISDIR:
        return PlaceError("not_a_file", path, "a folder is where a file is expected")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PlaceError("unreadable_source", path, "permission denied: the file cannot be read")
    if exc.errno == errno.ENAMETOOLONG:
        return PlaceError("name_too_long", path, "the path is too long for this file system")
    return PlaceError("unreadable_source", path, f"the file cannot be read ({exc.strerror or exc})")


def open_source(path: str | os.PathLike) -> int:
    """A read descriptor of source ``path``, read through symlinks, that is a regular file.

    Opened non-blocking, so a FIFO or device is recognised by ``fstat`` instead of hanging the run.

    Raises:
        PlaceError: ``dangling_link``, ``link_loop``, ``not_a_file`` (a folder, FIFO, device or
            socket), ``unreadable_source``, ``source_vanished``.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    except OSError as exc:
        raise _source_error(path, exc) from exc
    except ValueError as exc:  # a NUL byte in the path
        raise PlaceError("bad_name", path, f"the path cannot name a file ({exc})") from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a device or socket")
        raise PlaceError("not_a_file", path, f"{what} is where a file is expected")
    if _NONBLOCK:
        os.set_blocking(fd, True)
    return fd


def not_a_file_text(path: Path) -> str:
    """Why ``path`` (given for a file) is not one: ``does not exist``, ``is a folder``, ...."""
    try:
        check_source(path)
    except PlaceError as exc:
        if exc.kind == "source_vanished":
            return "does not exist"
        return f"cannot be used: {exc.reason}"
    return "is not a readable file"


def check_source(path: str | os.PathLike) -> None:
    """Raise :class:`PlaceError` unless ``path`` can be read as a regular file (see :func:`open_source`);
    run before a decoder opens the file by name (a decoder would block on a FIFO)."""
    os.close(open_source(path))


def usable_source(path: str | os.PathLike) -> bool:
    """True when :func:`check_source` would pass (used to prefer a usable file among same-named ones)."""
    try:
        check_source(path)
    except PlaceError:
        return False
    return True


# -- outputs ------------------------------------------------------------------------------------
def trusted_output(path: str | os.PathLike) -> bool:
    """True when an existing output may be kept as *already present*: a non-empty regular file, not a
    symlink, that can be opened for reading. A 0-byte, unreadable or linked file is redone."""
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    try:
        os.close(os.open(path, os.O_RDONLY | NO_FOLLOW))
    except OSError:
        return False
    return True


def _write_failure(dst: Path, exc: Exception) -> PlaceError:
    return PlaceError("unwritable_output", dst, f"the output cannot be written ({exc})")


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Write the bytes of source ``src`` (read through symlinks) as a fresh regular file ``dst``.

    Raises:
        PlaceError: the source cannot be read (see :func:`open_source`; also a read error midway), or
            ``dst`` cannot be written (``unwritable_output``: e.g. a folder in its place). The
            temporary file is removed and ``dst`` left as it was.
        NoRoomError: the disk is full (that stops the whole run, with the advice to run it again).
    """
    src, dst = Path(src), Path(dst)
    fd = open_source(src)
    try:
        with atomic_path(dst, size_hint=os.fstat(fd).st_size) as tmp:
            out = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | _CLOEXEC)
            try:
                while True:
                    try:
                        block = os.read(fd, CHUNK)
                    except OSError as exc:
                        raise _source_error(src, exc) from exc
                    if not block:
                        break
                    view = memoryview(block)
                    while view:
                        view = view[os.write(out, view):]
            finally:
                os.close(out)
    except NoRoomError:
        raise
    except VsslevalError as exc:  # a folder or a file in the way of the output: this record only
        raise _write_failure(dst, exc) from exc
    finally:
        os.close(fd)


def write_output(dst: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` as a fresh regular file ``dst`` (a :class:`PlaceError` ``unwritable_output``
    when it cannot be; a :class:`NoRoomError` when the disk is full)."""
    dst = Path(dst)
    try:
        with atomic_path(dst, size_hint=len(data)) as tmp:
            tmp.write_bytes(data)
    except NoRoomError:
        raise
    except VsslevalError as exc:
        raise _write_failure(dst, exc) from exc


# -- the output folder and its targets -----------------------------------------------------------
def _remove_stale(folder: Path) -> None:
    """Remove the temporary files an interrupted run left in ``folder`` (``.<name>.<random>.tmp``,
    :func:`vssleval.io_utils.atomic_path`); only files and links, never a folder of that name."""
    for stale in folder.glob(".*.tmp"):
        try:
            if not stat.S_ISDIR(os.lstat(stale).st_mode):
                stale.unlink()
        except OSError:
            continue


def prepare_out(out: str | os.PathLike, folders: Iterable[str]) -> Path:
    """Create the output folder and its media ``folders``; remove temporary files an interrupted run
    left in them.

    A media folder that is a symlink is refused (its target may be anywhere: writing into it would
    write outside ``--out``); so is a media folder that is a file. ``--out`` itself may be a symlink:
    the folder the user named is where everything goes.

    Raises:
        VsslevalError: naming the folder and the fix.
    """
    root = ensure_output_dir(out)
    for name in folders:
        folder = root / name
        if folder.is_symlink():
            raise VsslevalError(f"{folder} is a symlink (to {os.readlink(folder)}); prepare writes only inside "
                                f"--out {root} and never into a linked folder: remove the link (or move the "
                                "folder it points to there) and run the command again")
        ensure_output_dir(folder, "output folder")
        _remove_stale(folder)
    return root


def refuse_overlap(source: Path, flag: str, out: Path, folders: Sequence[str], *, same_ok: bool = False) -> None:
    """Refuse a source folder that is the output folder (unless ``same_ok``: the converter's outputs
    cannot be mistaken for its sources) or lies inside one of the media ``folders`` prepare writes,
    where its files would be replaced by prepared ones."""
    real = Path(os.path.realpath(source))
    if real == Path(os.path.realpath(out)) and not same_ok:
        raise VsslevalError(f"{flag} {source} is the output folder --out {out}; prepare builds a new folder from "
                            f"the download and would replace its files: choose another --out")
    written = [Path(os.path.realpath(out / f)) for f in folders]
    if any(real == w or w in real.parents for w in written):
        raise VsslevalError(f"{flag} {source} lies inside a folder prepare writes in --out {out} "
                            f"({', '.join(folders)}); move the download elsewhere or choose another --out")


def target(root: Path, folder: str, name: str) -> Path:
    """The output path ``root/folder/name`` for a name taken from an annotation file.

    Raises:
        PlaceError: ``bad_record`` when the name names no file (empty, a folder); ``path_escape``
            when it would put the file outside ``root/folder`` (``../x``, an absolute path, a
            symlinked sub-folder); ``bad_name``, ``name_too_long`` or ``path_too_long`` when the
            file system cannot hold it (docs/datasets.md §8).
    """
    if not name or name.endswith(("/", "\\")) or Path(name).name in ("", ".", ".."):
        raise PlaceError("bad_record", root / folder, f"the record names no file ({name!r})")
    path = root / folder / name
    problem = path_limit_problem(path)
    if problem is not None:
        raise PlaceError(problem[0], root / folder, problem[1])
    # The parent, resolved, must lie in the folder; the file itself is not resolved: a symlink
    # already at the output path is replaced by the new file, never followed.
    folder_real = Path(os.path.realpath(root / folder))
    if os.path.isabs(name) or not inside_folder(path.parent, [folder_real]):
        raise PlaceError("path_escape", root, "the id would name a file outside the output folder; fix the "
                         "annotation file")
    return path


class Claims:
    """The output files the records of one run claim, so that two records never write one file.

    Different ids give different names, but a file system that ignores letter case or Unicode
    normalisation (macOS, Windows) stores ``Ab.jpg`` and ``ab.jpg``, or the NFC and NFD spellings of
    ``é``, as one file: the second record would overwrite the first's frame with its own. Such a
    second record is refused (``name_collision``); where the file system tells them apart
    (:func:`~vssleval.data.checks.fs_folding`) both are prepared.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], tuple[str, str]] = {}

    def targets(self, root: Path, record_id: str, *names: tuple[str, str]) -> list[Path]:
        """The output paths ``root/folder/name`` of one record's ``(folder, name)`` files
        (:func:`target`), each claimed for ``record_id``; raises :class:`PlaceError` as they do."""
        paths = [target(root, folder, name) for folder, name in names]
        for path in paths:
            self.claim(record_id, path)
        return paths

    def claim(self, record_id: str, path: Path) -> None:
        """Record that ``record_id`` writes ``path``; raise :class:`PlaceError` when another record
        writes a different name that is the same file here."""
        folder = path.parent
        probe_at = next((p for p in (folder, *folder.parents) if p.is_dir()), Path("."))
        case, norm = fs_folding(str(probe_at))
        key = (name_key(str(folder), case, norm), name_key(path.name, case, norm))
        other = self._by_key.setdefault(key, (record_id, path.name))
        if other[1] != path.name:
            raise PlaceError("name_collision", path,
                             f"its file name is the same file as record {other[0]!r}'s ({other[1]}) on this file "
                             "system, which ignores letter case or Unicode normalisation in names; rename one of "
                             "them in the annotation")
