"""Session-wide helpers for the model-zoo tests: the rule weights (tests/weight_rule.py) as a state
dict, and ACL-SSL's substitute release.

Building a state dict by the fixtures' rule takes about a second per model, so it is cached per
test session; the same weights as official checkpoint files come from ``official_checkpoint`` in
``tests/conftest.py`` (written once per session for every worker).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

import shared

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
    """ACL-SSL's three parts in their release containers, written once per session (the rule
    generates ~240 M parameters): DIR = ``release / "ckpt"`` (Param_best.pth, the BEATs .pt) and a
    Hugging Face cache ``release / "hf"`` holding CIDAS/clipseg-rd64-refined (DIR has no
    clipseg-rd64-refined/ folder, so the cache lookup is what finds it). Tests only read it."""
    rule = _acl_weight_rule()
    root = tmp_path_factory.mktemp("aclssl")
    rule.write_checkpoint_dir(root / "ckpt")
    snap = root / "hf" / "hub" / "models--CIDAS--clipseg-rd64-refined" / "snapshots" / "0123abcd"
    snap.parent.mkdir(parents=True)
    (root / "ckpt" / "clipseg-rd64-refined").rename(snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0123abcd")
    return root
