"""Fixtures of the engine tests: the OGL substitute and EZ-VSL's rule-weight checkpoint (files of
``official_checkpoint``, ``tests/conftest.py``) and small synthetic datasets, each built once per
test session.

The machine running the suite has two cores shared with other jobs, so torch runs on one thread
unless a module asks for more (the parity module uses two).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import shared
from vssleval.data.synthetic.generate import synth


@pytest.fixture(autouse=True, scope="module")
def _torch_threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(getattr(request.module, "TORCH_THREADS", 1))
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def ogl_weights(official_checkpoint) -> Path:
    """The OGL prior's stand-in for torchvision's ImageNet ResNet-18 file (plain state dict)."""
    return official_checkpoint(shared.BEST.manifests / "ogl_resnet18.json")


@pytest.fixture(scope="session")
def ezvsl_checkpoint(official_checkpoint) -> Path:
    return official_checkpoint(shared.BEST.manifests / "ezvsl.json")


@pytest.fixture(scope="session")
def synthetic_set(tmp_path_factory):
    """``synthetic_set(layout, n) -> Path`` of a tiny generated dataset (cached per session).

    Small sets keep reference loops cheap, and with no ``--limit`` every offscreen clip is one of
    the evaluated positives, so the engine can take its reuse path.
    """
    root = tmp_path_factory.mktemp("synthetic")
    cache: dict[tuple[str, int], Path] = {}

    def get(layout: str = "vggss", n: int = 6) -> Path:
        if (layout, n) not in cache:
            cache[(layout, n)] = synth(layout, n, 0, root / f"{layout}-n{n}")
        return cache[(layout, n)]

    return get
