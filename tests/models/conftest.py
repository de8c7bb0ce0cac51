"""Session-wide helpers for the model-zoo tests: rule weights (tests/weight_rule.py) written as official checkpoint files.

Building a state dict by the fixtures' rule takes about a second per model, and the golden input
files are large, so both are cached per test session; ACL-SSL's generated release (seconds, ~1 GB)
is written once for all the session's workers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import cross_worker
import shared
import weight_rule

ROOT = Path(__file__).resolve().parents[2]
ACL_RULE = Path(os.environ.get("VSSLEVAL_ACLSSL_WEIGHT_RULE") or ROOT / "scripts" / "reference" / "aclssl_weights.py")


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


def _acl_weight_rule():
    """The ACL-SSL weight rule (``scripts/reference/aclssl_weights.py``) as a module."""
    if not ACL_RULE.is_file():
        pytest.skip(f"needs the ACL-SSL weight rule {ACL_RULE} (scripts/reference/aclssl_weights.py)")
    spec = importlib.util.spec_from_file_location("aclssl_weights_rule", ACL_RULE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """ACL-SSL's three parts in their release containers, written once per test session and shared
    by the pytest-xdist workers (tests/cross_worker.py: the rule generates ~240 M parameters, ~1 GB
    on disk): DIR = ``release / "ckpt"`` (Param_best.pth, the BEATs .pt) and a Hugging Face cache
    ``release / "hf"`` holding CIDAS/clipseg-rd64-refined (DIR has no clipseg-rd64-refined/ folder,
    so the cache lookup is what finds it). Tests only read it."""
    rule = _acl_weight_rule()

    def build(root: Path) -> None:
        rule.write_checkpoint_dir(root / "ckpt")
        snap = root / "hf" / "hub" / "models--CIDAS--clipseg-rd64-refined" / "snapshots" / "0123abcd"
        snap.parent.mkdir(parents=True)
        (root / "ckpt" / "clipseg-rd64-refined").rename(snap)
        (snap.parents[1] / "refs").mkdir()
        (snap.parents[1] / "refs" / "main").write_text("0123abcd")

    return cross_worker.build_once(tmp_path_factory, f"aclssl-release-{rule.RULE_VERSION}", build)
