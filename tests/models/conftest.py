"""Session-wide helpers for the model-zoo tests: rule weights (tests/weight_rule.py) written as official checkpoint files.

Building a state dict by the fixtures' rule takes about a second per model, and the golden input
files are large, so both are cached per test session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import shared
import weight_rule


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The CI box has two cores shared by several jobs: keep torch to one thread here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def rule_state_dict():
    """``rule_state_dict(manifest_path) -> bare state dict`` (cached)."""
    return shared.rule_state_dict


@pytest.fixture(scope="session")
def official_checkpoint(tmp_path_factory, rule_state_dict):
    """``official_checkpoint(manifest_path) -> Path`` of the rule weights saved in the container
    the manifest names (top-level key, key prefix, file name), plus the non-tensor entries the
    released files carry (epoch, numpy best-metric scalars) so safe loading is exercised too."""
    folder = tmp_path_factory.mktemp("official_ckpts")
    cache: dict[str, Path] = {}

    def get(path) -> Path:
        key = str(path)
        if key not in cache:
            manifest = shared.manifest(key)
            obj = weight_rule.wrap_checkpoint(manifest, rule_state_dict(key))
            if manifest["checkpoint"].get("container_key"):
                obj["epoch"] = 17
                obj["best_cIoU"] = np.mean([0.25, 0.5])  # numpy float64, as the EZ-family files hold
            out = folder / Path(key).stem / manifest["checkpoint"]["file"]
            out.parent.mkdir(parents=True, exist_ok=True)
            torch.save(obj, out)
            cache[key] = out
        return cache[key]

    return get
