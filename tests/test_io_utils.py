"""Atomic output files: readable like any other file, and a clear error when the path is unusable."""

import os
import stat

import pytest

from vssleval.errors import VsslevalError
from vssleval.io_utils import write_text_atomic


def test_written_file_has_the_umask_mode_not_0600(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    write_text_atomic(tmp_path / "a.txt", "x")  # mkstemp alone would leave it 0600
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask


def test_file_in_the_way_of_the_folder(tmp_path):
    (tmp_path / "blocker").write_text("keep me")
    with pytest.raises(VsslevalError, match=f"{tmp_path / 'blocker'} is a file, not a folder"):
        write_text_atomic(tmp_path / "blocker" / "sub" / "out.json", "{}")
    assert (tmp_path / "blocker").read_text() == "keep me"


def test_directory_in_the_place_of_the_file(tmp_path):
    (tmp_path / "out.json").mkdir()
    with pytest.raises(VsslevalError, match="is a directory"):
        write_text_atomic(tmp_path / "out.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_a_symlink_at_the_output_path_is_replaced_not_written_through(tmp_path):
    """docs/datasets.md §10 (placement): the rename replaces the link; its target keeps its bytes and mode."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    os.chmod(target, 0o600)
    os.symlink(target, tmp_path / "out.txt")
    write_text_atomic(tmp_path / "out.txt", "new")
    assert not (tmp_path / "out.txt").is_symlink() and (tmp_path / "out.txt").read_text() == "new"
    assert target.read_text() == "keep me" and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("how", ["symlink", "hardlink"])
def test_a_temp_file_replaced_by_a_link_is_refused_and_nothing_is_chmodded(tmp_path, how):
    """The S1 mechanism: the old prepare put a (hard) link at the temporary path and atomic_path's
    chmod went through it to an unrelated file. The temporary file is now sealed through a
    no-follow descriptor, and anything but the fresh regular file is refused."""
    from vssleval.io_utils import atomic_path

    canary = tmp_path / "canary.jpg"
    canary.write_bytes(b"unrelated")
    os.chmod(canary, 0o600)
    before = os.stat(canary)
    with pytest.raises(VsslevalError, match="nothing was written"):
        with atomic_path(tmp_path / "out" / "x.jpg") as tmp:
            tmp.unlink()
            (os.symlink if how == "symlink" else os.link)(canary, tmp)
    after = os.stat(canary)
    assert (stat.S_IMODE(after.st_mode), after.st_nlink, after.st_mtime_ns) == (0o600, 1, before.st_mtime_ns)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_dangling_symlink_in_the_way_is_named_as_such(tmp_path):
    """--out through a dangling link: the message says so (it used to call the link a file)."""
    from vssleval.io_utils import ensure_output_dir

    os.symlink(tmp_path / "gone" / "dir", tmp_path / "out")
    with pytest.raises(VsslevalError, match=r"out is a symlink to .*gone/dir, which does not exist"):
        ensure_output_dir(tmp_path / "out")
