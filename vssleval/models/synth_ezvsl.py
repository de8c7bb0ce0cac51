"""synth-ezvsl: the EZ-VSL architecture with small CNN towers, trained on the synthetic benchmark.

The network is :class:`TwoTowerCosine` exactly as ``ezvsl`` builds it (towers from the YAML's
``model:`` block). The only addition is where its weights come from when none are given: the file
shipped in ``<repo>/checkpoints/`` (``checkpoint.file``), after checking its SHA-256 against the
training record beside it (``checkpoint.sidecar``), written by ``scripts/train_synthetic.py``.
Facts: docs/models.md §14.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vssleval import resources
from vssleval.errors import VsslevalError
from vssleval.fingerprint import file_sha256
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine

RETRAIN = "python scripts/train_synthetic.py (or: vssleval train-synthetic)"


def shipped_checkpoint_dir() -> Path:
    """The folder of the shipped checkpoint (see :mod:`vssleval.resources`)."""
    return resources.shipped_checkpoint_dir()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (:func:`vssleval.fingerprint.file_sha256`)."""
    return file_sha256(path)


def verified_checkpoint(pth: Path, sidecar: Path) -> Path:
    """``pth`` if its SHA-256 equals the ``sha256`` recorded in ``sidecar``; otherwise a clear error."""
    for f in (pth, sidecar):
        if not f.is_file():
            raise VsslevalError(f"shipped checkpoint file missing: {f}. Retrain it with {RETRAIN}, "
                                "or pass --checkpoint")
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        expected = str(record["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VsslevalError(f"{sidecar} is not a valid training record (no 'sha256'): {exc}") from exc
    actual = sha256_file(pth)
    if actual != expected:
        raise VsslevalError(f"{pth} does not match its training record {sidecar.name}: SHA-256 {actual} "
                            f"!= recorded {expected}. The file was changed or corrupted; restore it "
                            f"(git checkout {pth.name}) or retrain with {RETRAIN}")
    return pth


class SynthEZVSL(TwoTowerCosine):
    """EZ-VSL with the small towers of ``configs/models/synth-ezvsl.yaml`` and a shipped default."""

    def default_checkpoint(self) -> Path:
        """The shipped ``checkpoints/<checkpoint.file>``, verified against its sidecar's SHA-256."""
        ckpt = dict(self.config.get("checkpoint") or {})
        name = ckpt.get("file", "synth-ezvsl.pth")
        sidecar = ckpt.get("sidecar", Path(name).with_suffix(".json").name)
        try:
            pth = resources.require_file("checkpoints", name, "the shipped checkpoint")
            record = resources.require_file("checkpoints", sidecar, "the shipped checkpoint's training record")
        except VsslevalError as exc:
            raise VsslevalError(f"{exc}. Or retrain it with {RETRAIN}, or pass --checkpoint") from None
        return verified_checkpoint(pth, record)


@register_model("synth-ezvsl")
def synth_ezvsl(dim: int = 128, visual: dict[str, Any] | None = None,
                audio: dict[str, Any] | None = None) -> SynthEZVSL:
    """Same construction as :func:`vssleval.models.ezvsl.ezvsl`; towers come from the YAML."""
    if visual is None or audio is None:
        raise VsslevalError("synth-ezvsl needs 'visual' and 'audio' tower configs (configs/models/synth-ezvsl.yaml)")
    return SynthEZVSL(visual, audio, heads=[["img_proj", "aud_proj"]], dim=dim)
