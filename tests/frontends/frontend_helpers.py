"""Helpers for the front-end tests: preset loading from the repo's model configs."""

from __future__ import annotations

import hashlib

import numpy as np
import yaml

from shared import ROOT


def preset(model: str, name: str) -> dict:
    """``presets.<name>`` of ``configs/models/<model>.yaml``."""
    with open(ROOT / "configs" / "models" / f"{model}.yaml") as f:
        return yaml.safe_load(f)["presets"][name]


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def rel(a, b) -> float:
    """max|a-b| / max|b| (the fixtures' tolerance measure)."""
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(float(np.abs(b).max()), 1e-30))
