"""The data subcommands: synth, datasets, fetch-metadata (offline: never touches the network)."""

import json
import urllib.error

import pytest

from data_helpers import write_json
from vssleval import cli
from vssleval.data import fetch
from vssleval.data.fetch import MetadataFile, fetch_metadata
from vssleval.errors import VsslevalError


def test_synth_command_writes_layout(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli.main(["synth", "--layout", "is3", "--n", "4", "--seed", "2", "--out", str(out)]) == 0
    assert "wrote 4 is3-layout samples" in capsys.readouterr().out
    for name in ("IS3_annotation.json", "synthetic3240_bbox.json", "IS3_class_files_dict.json", "images", "audio_wav"):
        assert (out / name).exists()
    assert json.loads((out / "synthetic_info.json").read_text())["seed"] == 2


def test_synth_command_user_error_exits_2(tmp_path, capsys):
    assert cli.main(["synth", "--layout", "is3", "--n", "3", "--out", str(tmp_path / "x")]) == 2
    assert "must be even" in capsys.readouterr().err


def test_datasets_lists_registry(capsys):
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("vggss", "is3", "flickr", "vggss_extended", "flickr_extended", "synthetic-vggss", "synthetic-is3"):
        assert name in out


def test_datasets_validates_a_folder(vggss_dir, capsys):
    assert cli.main(["datasets", "vggss", "--data-dir", str(vggss_dir)]) == 0
    out = capsys.readouterr().out
    assert "samples: 3 (3 positive, 0 negative)" in out and "boxes: 4" in out and "bad samples: 0" in out
    bad = vggss_dir / "audio" / "aaaaaaaaaaa_000001.wav"
    bad.unlink()
    skips = vggss_dir / "skips.json"
    assert cli.main(["datasets", "vggss", "--data-dir", str(vggss_dir), "--skips-out", str(skips)]) == 1
    out = capsys.readouterr().out
    assert "bad samples: 1" in out and str(bad) in out
    assert json.loads(skips.read_text()) == [{"id": "aaaaaaaaaaa_000001", "path": str(bad),
                                              "reason": "audio file is missing", "kind": "missing_audio"}]


def test_datasets_unknown_name_exits_2(tmp_path, capsys):
    assert cli.main(["datasets", "nope", "--data-dir", str(tmp_path)]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


@pytest.fixture
def offline(monkeypatch):
    def refuse(url, timeout):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(fetch, "_download", refuse)


def test_fetch_offline_names_file_source_and_destination(tmp_path, offline, capsys):
    assert cli.main(["fetch-metadata", "vggss_extended", "--dest", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    for name in ("vggss.json", "vggss_test_plus_silent.csv"):
        assert name in err and str(tmp_path / name) in err
    assert "https://raw.githubusercontent.com/stoneMo/SLAVC/HEAD/metadata/vggss_test_plus_silent.csv" in err
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_fetch_manual_files_say_where_they_come_from(tmp_path, offline):
    with pytest.raises(VsslevalError, match=r"IS3_annotation.json: cannot be downloaded by script; get it from "
                                            r"the IS3 archive on Google Drive"):
        fetch_metadata([MetadataFile("IS3_annotation.json", "the IS3 archive on Google Drive")], tmp_path)


def test_fetch_unreachable_url_without_monkeypatch(tmp_path):
    # a local port nobody listens on: fails at once, never leaves the machine
    entry = MetadataFile("vggss.json", "test", url="http://127.0.0.1:9/vggss.json")
    with pytest.raises(VsslevalError, match="vggss.json: download failed"):
        fetch_metadata([entry], tmp_path, timeout=2)


def test_fetch_writes_and_skips_existing(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fetch, "_download", lambda url, timeout: calls.append(url) or b"[]")
    entry = MetadataFile("vggss.json", "test", url="https://example.invalid/vggss.json")
    assert fetch_metadata([entry], tmp_path) == [tmp_path / "vggss.json"]
    assert (tmp_path / "vggss.json").read_bytes() == b"[]"
    write_json(tmp_path / "vggss.json", [1])
    fetch_metadata([entry], tmp_path)  # present: not downloaded again
    assert len(calls) == 1 and json.loads((tmp_path / "vggss.json").read_text()) == [1]


def test_synth_out_below_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "f").write_text("keep")
    assert cli.main(["synth", "--n", "2", "--out", str(tmp_path / "f" / "s")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'f'} is a file, not a folder" in err and "Traceback" not in err


def test_datasets_skips_out_to_a_directory_exits_2(vggss_dir, tmp_path, capsys):
    (vggss_dir / "audio" / "aaaaaaaaaaa_000001.wav").unlink()
    (tmp_path / "skips").mkdir()
    assert cli.main(["datasets", "vggss", "--data-dir", str(vggss_dir), "--skips-out", str(tmp_path / "skips")]) == 2
    assert "is a directory" in capsys.readouterr().err
