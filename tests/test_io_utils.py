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
