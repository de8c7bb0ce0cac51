"""Session-wide helpers for the model-zoo tests: ACL-SSL's substitute release and the one evaluation
run whose forwards several ACL-SSL modules read.

The rule weights of the other models (``rule_state_dict``) and their official checkpoint files
(``official_checkpoint``) are fixtures of ``tests/conftest.py``, shared with the engine tests;
ACL-SSL's generated release (seconds, ~1 GB) is written once for all the session's workers too.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import cross_worker

ROOT = Path(__file__).resolve().parents[2]
ACL_RULE = Path(os.environ.get("VSSLEVAL_ACLSSL_WEIGHT_RULE") or ROOT / "scripts" / "reference" / "aclssl_weights.py")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The CI box has two cores shared by several jobs: keep torch to one thread here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


ACL_FIX = ROOT / "tests" / "fixtures" / "aclssl"
ACL_DATA = ROOT / "tests" / "fixtures" / "data" / "vggss"
#: what :func:`aclssl_run` records of the model's calls during the run, in call order
ACL_CAPTURED = ("encode_image", "encode_audio", "beats", "fga", "logits", "localize", "confidence", "dense")


def _spy(mp: pytest.MonkeyPatch, cls, method: str, calls: list, keep_input: bool = False) -> None:
    """Record every output (and first input, ``keep_input``) of ``cls.method`` in ``calls``."""
    original = getattr(cls, method)

    def spy(self, x, *rest):
        out = original(self, x, *rest)
        calls.append(((x.detach().clone(),) if keep_input else ()) + (out.detach().clone(),))
        return out

    mp.setattr(cls, method, spy)


def _each_input_once(mp: pytest.MonkeyPatch, cls, method: str, inner: tuple[list, ...] = (),
                     known: dict[bytes, torch.Tensor] | None = None) -> None:
    """Make ``cls.method`` (an encoder) compute each distinct row of its batch once and hand the
    rows back in the batch's order; a row whose input is a key of ``known`` (the input's bytes) is
    not computed: ``known``'s value is its output. The records that spies on the encoder's inner
    stages made during the call (``inner``; only without ``known``) are put back in the batch's
    order too, so every record keeps one row per batch row.

    ACL-SSL's encoders work row by row (a row's features do not depend on the other rows of its
    batch), so this changes which rows are computed, not what a row gets (up to the float rounding
    of another batch size, far below the tests' bounds); it saves the ViT-B/16 and BEATs forwards of
    the inputs that :func:`aclssl_run`'s pairs repeat (8 pairs of 4 images and 4 audio clips) and
    of those that :func:`aclssl_encodings` already holds."""
    original = getattr(cls, method)
    known = known or {}
    assert not (known and inner), "the inner records cannot be put in order for rows not computed"

    def encode(self, x):
        keys = [r.numpy().tobytes() for r in x.detach().flatten(1)]
        new = list(dict.fromkeys(k for k in keys if k not in known))
        if len(new) == len(keys):
            return original(self, x)
        marks = [len(c) for c in inner]
        computed = original(self, x[[keys.index(k) for k in new]]) if new else None
        where = {k: i for i, k in enumerate(new)}
        for records, mark in zip(inner, marks):
            order = torch.tensor([where[k] for k in keys])
            records[mark:] = [tuple(t[order] for t in item) for item in records[mark:]]
        return torch.stack([computed[where[k]] if k in where else known[k] for k in keys])

    mp.setattr(cls, method, encode)


@pytest.fixture(scope="session")
def aclssl_run(release, tmp_path_factory):
    """One native evaluation of the extended golden's 8 samples (``tests/fixtures/aclssl/extended.npz``:
    the 4 fixture clips as positives, 4 ``non-sounding`` pairs of them) with the release files, and
    what the model computed on the way, in one folder: ``run/`` (the run), ``calls.pt`` (``{name:
    [(input?, output), ...]}`` for :data:`ACL_CAPTURED`, inputs for the two encoders) and
    ``model.json`` (the built model's ``checkpoint_files`` and ``feature_mask_args``). Returns
    ``.run`` (the run folder), ``.calls`` (:func:`_joined`) and ``.model`` (model.json's dict).

    Built once per session for all workers (tests/cross_worker.py): a ViT-B/16 at 352 px and BEATs
    on 8 inputs each take tens of seconds (each of the 4 distinct images and audio clips of the
    pairs is encoded once, :func:`_each_input_once`), and test_aclssl_extended.py (the run, the confidence
    stages) and test_aclssl_parity.py (every stage on clips 0 and 1, which are 2 of the positives)
    read the same forwards."""
    from vssleval import evaluate
    from vssleval.models.aclssl import AclSsl
    from vssleval.models.beats_net import Beats, FgaEmbedder
    from vssleval.models.clipseg_net import Clip

    def build(root: Path) -> None:
        data = root / "data"
        data.mkdir()
        for name in ("vggss.json", "vggss_test_plus_silent.csv"):
            (data / name).write_bytes((ACL_FIX / "extended_data" / name).read_bytes())
        for sub in ("frames", "audio"):
            os.symlink(ACL_DATA / sub, data / sub)
        calls: dict[str, list] = {name: [] for name in ACL_CAPTURED}
        models: list = []
        mp = pytest.MonkeyPatch()
        _each_input_once(mp, AclSsl, "encode_image")  # under the spies: they record the batch's rows
        _each_input_once(mp, AclSsl, "encode_audio", (calls["beats"], calls["fga"]))
        for cls, method, name in ((AclSsl, "encode_image", "encode_image"), (AclSsl, "encode_audio", "encode_audio")):
            _spy(mp, cls, method, calls[name], keep_input=True)
        for cls, method, name in ((Beats, "forward", "beats"), (FgaEmbedder, "forward", "fga"),
                                  (AclSsl, "logits", "logits"), (AclSsl, "localize", "localize"),
                                  (AclSsl, "confidence", "confidence"), (Clip, "dense_features", "dense")):
            _spy(mp, cls, method, calls[name])
        built = AclSsl.__init__
        mp.setattr(AclSsl, "__init__", lambda self, *a, **k: (built(self, *a, **k), models.append(self))[0])
        mp.setenv("HF_HOME", str(release / "hf"))
        try:
            evaluate("aclssl", "vggss_extended", data_dir=data, checkpoint=release / "ckpt", preset="native",
                     protocol="native", neg="none", seeds=1, out=root / "run", device="cpu", bootstrap=0,
                     verbose=False)
        finally:
            mp.undo()
        (model,) = models  # one model, built from the release files
        torch.save(calls, root / "calls.pt")
        (root / "model.json").write_text(json.dumps({"checkpoint_files": model.checkpoint_files,
                                                     "feature_mask_args": model.feature_mask_args}))

    root = cross_worker.build_once(tmp_path_factory, f"aclssl-extended-run-{_acl_weight_rule().RULE_VERSION}", build)
    return SimpleNamespace(run=root / "run", calls=_joined(torch.load(root / "calls.pt", weights_only=True)),
                           model=json.loads((root / "model.json").read_text()))


@pytest.fixture(scope="session")
def aclssl_encodings(aclssl_run):
    """``aclssl_encodings(mp)``: patch (with the MonkeyPatch ``mp``) ACL-SSL's two encoders to hand
    back, for an input that :func:`aclssl_run` encoded, the encoding it recorded, and to compute the
    others (:func:`_each_input_once`). For the modules' own runs with the same release
    (test_aclssl_native.py, test_aclssl_negatives.py): their positives are 2 of that run's clips
    through the same front-ends, so the ViT-B/16 and BEATs run only for what the run did not encode
    (silence, noise, offscreen audio); and for the contract test's ACL-SSL case
    (test_registered_models_contract.py), which feeds 2 of the run's inputs. Undo ``mp`` when the
    run is made."""
    from vssleval.models.aclssl import AclSsl

    calls = aclssl_run.calls
    tables = {name: {row.numpy().tobytes(): out for row, out in zip(calls[name + "_input"].flatten(1), calls[name])}
              for name in ("encode_image", "encode_audio")}

    def patch(mp: pytest.MonkeyPatch) -> None:
        for name, table in tables.items():
            _each_input_once(mp, AclSsl, name, known=table)

    return patch


def _joined(calls: dict[str, list]) -> dict[str, torch.Tensor]:
    """Each captured name's outputs (and ``<name>_input``) concatenated over its calls: the engine's
    rows, in dataset order (``logits``: the first call per batch, the one inside ``localize``)."""
    out = {}
    for name, items in calls.items():
        if name == "logits":  # localize's, then confidence's (the same logits again): one per batch
            items = items[::2]
        out[name] = torch.cat([c[-1] for c in items])
        if len(items[0]) == 2:
            out[name + "_input"] = torch.cat([c[0] for c in items])
    return out
