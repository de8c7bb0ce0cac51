"""Fixtures of the engine tests: rule-weight checkpoints in the official containers, the OGL
substitute, and small synthetic datasets, each built once per test session.

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
def rule_state_dict():
    """``rule_state_dict(manifest_path)``: the bare state dict of the fixtures' weight rule (cached)."""
    return shared.rule_state_dict


def save_official(manifest: dict, state_dict: dict, out: Path) -> Path:
    """Save ``state_dict`` the way the released file stores it (fixtures README §2): the manifest's
    ``checkpoint.container_key`` (None = a plain state dict) and ``key_prefix`` (``module.`` for LVS)."""
    block = manifest["checkpoint"]
    prefix = block.get("key_prefix") or ""
    inner = {prefix + k: v for k, v in state_dict.items()}
    obj = {block["container_key"]: inner} if block.get("container_key") else inner
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, out)
    return out


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory, rule_state_dict):
    """``official_checkpoint(manifest_path) -> Path``: rule weights in the official container, under
    the official file name, in a folder of their own (SACL's two parts share one folder)."""
    root = tmp_path_factory.mktemp("checkpoints")
    cache: dict[str, Path] = {}

    def get(path, folder: str | None = None) -> Path:
        key = str(path)
        if key not in cache:
            manifest = shared.manifest(key)
            out = root / (folder or Path(key).stem) / manifest["checkpoint"]["file"]
            cache[key] = save_official(manifest, rule_state_dict(key), out)
        return cache[key]

    return get


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
