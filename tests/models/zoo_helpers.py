"""Small helpers shared by the model-zoo tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

import shared

#: golden pipelines per model (fixtures README §3)
PIPELINES = {"ezvsl": "p10s", "slavc": "p10s", "fnac": "pfnac3s", "lvs": "plvs", "sslalign": "plvs",
             "ssltie": "pssltie"}
NATIVE_MANIFESTS = shared.BEST.native_manifests
MANIFESTS = shared.BEST.manifests
TOL = 1e-4


@functools.lru_cache(maxsize=None)
def load_npz(path: str) -> dict[str, np.ndarray]:
    with np.load(shared.require(Path(path))) as z:
        return {k: z[k] for k in z.files}


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """Fixtures README §6: ``||a - b|| / ||b||``."""
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))


def rel_max(a: np.ndarray, b: np.ndarray) -> float:
    """native/README: ``max|a - b| / max|b|``."""
    return float(np.abs(a.astype(np.float64) - b).max() / np.abs(b.astype(np.float64)).max())
