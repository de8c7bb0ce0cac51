"""Small file utilities shared by every stage: atomic writes so no output is ever half-written."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

from vssleval.errors import VsslevalError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Mode of the files written here: what ``open()`` would give (``mkstemp`` alone gives 0600, which
#: hides a run's outputs from the other users of a shared machine).
FILE_MODE = 0o666 & ~_umask()


def os_error_text(exc: OSError) -> str:
    """``exc`` in words for a message: 'X is a file, not a folder' where a parent path is a file."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        path = Path(exc.filename)
        chain = (*reversed(path.parents), path)
        dangling = next((p for p in chain if p.is_symlink() and not p.exists()), None)
        if dangling is not None:
            return f"{dangling} is a symlink to {os.readlink(dangling)}, which does not exist"
        blocker = next((p for p in chain if p.exists() and not p.is_dir()), path)
        return f"{blocker} is a file, not a folder"
    return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")


def ensure_output_dir(path: str | os.PathLike, what: str = "output folder", flag: str = "--out") -> Path:
    """Create the folder ``path`` (and parents), so a command that cannot write its outputs stops
    before any work, with a :class:`VsslevalError` naming the blocking path and the ``flag`` to change."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # e.g. a file where the folder or one of its parents should be
        raise VsslevalError(f"cannot create the {what} {path}: {os_error_text(exc)}; "
                            f"choose another {flag} (a new or existing folder)") from exc
    return path


#: ``errno`` values of a write that ran out of room: no space left, the file size limit
#: (``ulimit -f``), the disk quota.
NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})


def _size_text(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


#: What a message about a full disk tells the user to do next, by default: the run commands
#: (``evaluate``, ``infer``) continue an interrupted run with ``--resume``. A command with another
#: way to continue gives its own words through :meth:`NoRoomError.advise` (``prepare``: run it again).
AGAIN = "run the command again (a run continues with --resume)"


class NoRoomError(VsslevalError):
    """A write that ran out of room: ``problem`` (what, where, how much) and ``again`` (how to go on
    once there is room), so the command that raised it can put its own ``again``."""

    def __init__(self, problem: str, again: str = AGAIN):
        self.problem, self.again = problem, again
        super().__init__(f"{problem} Nothing was left half-written: free some space (or raise the limit) and {again}")

    def __reduce__(self):  # crosses process boundaries (prepare --workers) with both parts
        return type(self), (self.problem, self.again)

    def advise(self, again: str) -> "NoRoomError":
        """The same error with ``again`` as the advice."""
        return NoRoomError(self.problem, again)


def no_room_error(path: Path, exc: OSError, needed: int | None, written: int = 0) -> NoRoomError:
    """The message for a write of ``path`` that ran out of disk space or hit the file size limit."""
    try:
        free = f"{_size_text(shutil.disk_usage(path.parent).free)} free there"
    except OSError:
        free = "free space unknown"
    need = (f"about {_size_text(needed)} ({needed} bytes) needed" if needed
            else f"more than {_size_text(written)} ({written} bytes) needed")
    cause = "the file size limit (ulimit -f) was reached" if exc.errno == errno.EFBIG else "the disk is full"
    return NoRoomError(f"cannot write {path}: {cause} ({exc.strerror or exc}); {need}, {free}.")


#: Flags of a descriptor that never follows a final symlink nor blocks on a FIFO (where the system has them).
NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _seal(tmp: Path, path: Path) -> None:
    """Give the finished temporary file ``tmp`` its final mode, through a descriptor opened without
    following links: ``tmp`` must still be the fresh regular file :func:`atomic_path` created (one
    link, not a symlink), so a chmod can never reach another file (docs/datasets.md §10, placement)."""
    try:
        fd = os.open(tmp, os.O_RDONLY | NO_FOLLOW)
    except OSError as exc:
        raise VsslevalError(f"cannot write {path}: its temporary file {tmp} was replaced by a link "
                            f"({exc.strerror}); nothing was written") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise VsslevalError(f"cannot write {path}: its temporary file {tmp} is no longer a fresh regular "
                                "file (a link to another file); nothing was written")
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        else:  # no fchmod (Windows): the checks above already refused a link
            os.chmod(tmp, FILE_MODE)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    If the block raises, the temporary file is removed and ``path`` is left untouched, so readers
    only ever see a complete old file or a complete new one. The block writes into the temporary
    file (it must not replace it by a link: that is refused). The rename replaces whatever is at
    ``path`` (a symlink there is replaced, never written through); only a real folder there is an
    error. An output path that cannot be written (a file where a folder is needed, a folder where
    the file goes, no permission) is a :class:`VsslevalError` naming it; so is a full disk or the
    file size limit (a :class:`NoRoomError`), with the bytes needed (``size_hint``, the expected
    size of the file, when the caller knows it).
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise VsslevalError(f"cannot write {path}: it is a directory; choose a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise VsslevalError(f"cannot write {path}: {os_error_text(exc)}; "
                            "choose an output location in a writable folder") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _seal(tmp_path, path)
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            if exc.errno in NO_ROOM:
                raise
            raise VsslevalError(f"cannot write {path}: {os_error_text(exc)}; choose an output location "
                                "in a writable folder") from exc
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        written = tmp_path.lstat().st_size if os.path.lexists(tmp_path) else 0
        raise no_room_error(path, exc, size_hint, written) from exc
    finally:
        if os.path.lexists(tmp_path):  # lexists: a link left there is removed, never followed
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    data = text.encode("utf-8")
    with atomic_path(path, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (keys kept in insertion order)."""
    write_text_atomic(path, json.dumps(obj, indent=indent) + "\n")
