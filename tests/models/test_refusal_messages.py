"""Messages of two refusals: a checkpoint that would run code (D22) and an unknown model or dataset
name (the closest registered name is suggested)."""

from __future__ import annotations

import os

import pytest
import torch

from vssleval.cli import main
from vssleval.data.registry import get_config
from vssleval.errors import VsslevalError
from vssleval.models import build_model, read_checkpoint
from vssleval.models.registry import get_entry, list_models


def _malicious_checkpoint(folder, marker):
    """A .pth whose unpickling would call os.system to create ``marker``."""

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = folder / "evil.pth"
    torch.save({"model": {"w": torch.zeros(2)}, "args": Payload()}, path)  # pickling runs nothing
    return path


def test_code_executing_pickle_refused_and_points_to_trust_checkpoint(tmp_path, capsys):
    """D22: torch 2.14 words it "unsupported GLOBAL posix.system whose module posix is blocked"; the
    check only knew "Unsupported global" and told the user to download a valid file again."""
    marker = tmp_path / "payload-ran"
    path = _malicious_checkpoint(tmp_path, marker)
    with pytest.raises(VsslevalError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "--trust-checkpoint" in message and "executes any code" in message
    assert "system" in message and "Download it again" not in message and "not a valid torch file" not in message
    assert main(["infer", "--model", "ezvsl", "--checkpoint", str(path), "--limit", "2", "--seeds", "1",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "--trust-checkpoint" in err
    assert not marker.exists()  # the payload never ran
    assert not (tmp_path / "run" / "store").exists()


@pytest.mark.parametrize("line", [
    "Trying to load unsupported GLOBAL posix.system whose module posix is blocked.",
    "WeightsUnpickler error: Unsupported global: GLOBAL builtins.exec was not an allowed global by default.",
])
def test_both_spellings_of_a_refused_global(monkeypatch, tmp_path, line):
    import pickle

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError(f"Weights only load failed. Re-running `torch.load` ...\n\n{line}\n\nCheck the "
                                     "documentation of torch.load")

    (tmp_path / "w.pth").write_bytes(b"x")
    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(VsslevalError, match="--trust-checkpoint") as info:
        read_checkpoint(tmp_path / "w.pth")
    assert line.split("error: ")[-1] in str(info.value)


@pytest.mark.parametrize("typed, meant", [("EZVSL", "ezvsl"), ("sslalgin", "sslalign"), ("Synth-EZVSL", "synth-ezvsl")])
def test_unknown_model_suggests_the_closest_name(typed, meant):
    with pytest.raises(VsslevalError) as info:
        get_entry(typed)
    message = str(info.value)
    assert f"(did you mean {meant!r}?)" in message
    # and still lists every registered name (other test modules may have registered plug-ins too)
    listed = message.split("registered models: ", 1)[1]
    assert all(f"{name}," in listed or f"{name}." in listed for name in list_models())


@pytest.mark.parametrize("typed, meant", [("VGGSS", "vggss"), ("synthetic-vgss", "synthetic-vggss"),
                                          ("flicker", "flickr")])
def test_unknown_dataset_suggests_the_closest_name(typed, meant, capsys):
    with pytest.raises(VsslevalError, match=rf"\(did you mean {meant!r}\?\); registered: flickr, "):
        get_config(typed)
    assert main(["datasets", typed, "--data-dir", "."]) == 2
    assert f"(did you mean {meant!r}?)" in capsys.readouterr().err


def test_no_suggestion_when_nothing_is_close(capsys, tmp_path):
    with pytest.raises(VsslevalError) as info:
        build_model("qqqqqq")
    assert "did you mean" not in str(info.value) and "registered models: " in str(info.value)
    assert all(name in str(info.value) for name in ("center", "ezvsl", "synth-ezvsl"))
    assert main(["evaluate", "--model", "center", "--dataset", "zzzz", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'zzzz'; registered: flickr" in err
