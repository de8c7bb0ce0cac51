"""ACL-SSL's reference side: the substitute-weight rule, its manifests, and the goldens the official
code produced (docs/models.md §18). These check the fixtures themselves;
the model's parity with them is tested with the model."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

import shared
import weight_rule

GOLDEN = shared.BUNDLE_ROOT / "aclssl"
MANIFESTS = GOLDEN / "manifests"


def _weights_module():
    path = shared.ROOT / "scripts" / "reference" / "aclssl_weights.py"
    spec = importlib.util.spec_from_file_location("aclssl_weights_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


W = _weights_module()


def _sample(manifest: dict, every: int) -> list[dict]:
    """Every ``every``-th tensor plus every tensor outside the generic rule's cases (fast)."""
    ts = manifest["tensors"]
    return [t for i, t in enumerate(ts) if i % every == 0 or t["init"] in ("arange", "constant", "zero")
            or "relative_attention_bias" in t["key"]]


@pytest.mark.parametrize("part,count", [("param_best", 15), ("beats", 252), ("clipseg", 464)])
def test_rule_reproduces_manifest_sha256(part, count):
    m = W.load_manifest(part, MANIFESTS)
    assert len(m["tensors"]) == count and m["rule"] == W.RULE_VERSION
    for t in _sample(m, 1 if part == "param_best" else 17):
        value = W.tensor(W._flat_key(part, t["key"]), t["shape"], W.DTYPES[t["dtype"]])
        assert W.sha256(value) == t["sha256"], t["key"]


def test_verify_names_a_tampered_tensor(tmp_path):
    for part in W.PARTS:
        shutil.copy(MANIFESTS / f"{part}.json", tmp_path / f"{part}.json")
    m = json.loads((tmp_path / "param_best.json").read_text())
    m["tensors"][-1]["sha256"] = "0" * 64
    (tmp_path / "param_best.json").write_text(json.dumps(m))
    assert W.verify("param_best", tmp_path) == [m["tensors"][-1]["key"]]


def test_cli_refuses_a_missing_manifest_folder_in_one_line(tmp_path, capsys):
    assert W.main(["--verify", "--manifests", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no manifest for param_best, beats, clipseg" in err and "\n" not in err


def test_generic_cases_equal_the_fixtures_rule():
    """Outside its documented additions, the ACL rule is tests/weight_rule.py's rule."""
    for key, shape in [("decoder.reduces.0.weight", (64, 768)), ("fc1.bias", (2304,)),
                       ("encoder.layer_norm.weight", (768,)), ("x.running_var", (3,))]:
        assert torch.equal(W.tensor(key, shape, torch.float32), weight_rule.tensor(key, shape, torch.float32))


def test_shared_beats_bias_is_one_value_under_every_prefix():
    keys = [f"encoder.layers.{i}.self_attn.relative_attention_bias.weight" for i in range(12)]
    values = [W.tensor(k, (320, 12), torch.float32) for k in keys]
    assert all(torch.equal(values[0], v) for v in values[1:])
    entries = {t["key"]: t["sha256"] for t in W.load_manifest("beats", MANIFESTS)["tensors"] if t["key"] in keys}
    assert len(set(entries.values())) == 1 and len(entries) == 12


def test_special_values():
    assert torch.equal(W.tensor("clip.text_model.embeddings.position_ids", (1, 77), torch.int64),
                       torch.arange(77).unsqueeze(0))
    assert float(W.tensor("w", (), torch.float32)) == W.MASKER_W
    assert float(W.tensor("b", (), torch.float32)) == W.MASKER_B
    with pytest.raises(ValueError, match="0-d tensor"):
        W.tensor("some.scalar", (), torch.float32)


def test_param_best_container_loads_safely(tmp_path):
    sd = W.part_state_dict("param_best", MANIFESTS)
    obj = W.container("param_best", sd)
    torch.save(obj, tmp_path / "Param_best.pth")
    back = torch.load(tmp_path / "Param_best.pth", weights_only=True)
    assert set(back) == {"audio_proj", "masker_i"}
    assert set(back["masker_i"]) == {"w", "b"} and len(back["audio_proj"]) == 13
    assert back["audio_proj"]["fc1.weight"].shape == (2304, 2304)


def _golden():
    return np.load(GOLDEN / "golden.npz"), json.loads((GOLDEN / "evaluator.json").read_text())


def test_golden_sha256_records_match_the_stored_whole_arrays():
    g, _ = _golden()
    for name in ("heatmap", "fga_token", "embedding"):
        rows = g[name]
        assert [W.sha256(torch.from_numpy(np.ascontiguousarray(r))) for r in rows] == list(g[f"sha256_{name}"])
    assert W.sha256(torch.from_numpy(g["logits352_first"])) == g["sha256_logits352"][0]


def test_golden_scores_follow_the_evaluator_rule():
    """cIoU with `>=` on the float32 map, success rate at 0.5 and trapezoid AUC over 21 cIoU
    thresholds, recomputed here, equal what the official evaluator recorded."""
    g, ev = _golden()
    heat, gt = g["heatmap"], g["gt_map"].astype(np.float64)
    for k, thr in enumerate(g["thresholds"]):
        mask = (heat >= np.float32(thr)).astype(np.float64)
        ciou = (mask * gt).sum((1, 2)) / (gt.sum((1, 2)) + (mask * (gt == 0)).sum((1, 2)))
        np.testing.assert_allclose(ciou, g["ciou"][k], rtol=0, atol=1e-12)
        xs = [0.05 * i for i in range(21)]
        ys = [np.sum(ciou >= x) / len(ciou) for x in xs]
        auc = float(np.sum((np.array(xs[1:]) - np.array(xs[:-1])) * (np.array(ys[1:]) + np.array(ys[:-1])) / 2))
        assert abs(100 * auc - ev["auc"][k]) < 1e-9
        assert abs(100 * np.mean(ciou >= 0.5) - ev["ap50"][k]) < 1e-12


def test_golden_maps_discriminate_across_thresholds():
    """The substitute masker puts the maps across the thresholds: not constant, not saturated."""
    _, ev = _golden()
    frac = np.array(ev["diagnostics"]["fraction_at_or_above_threshold"])
    assert (frac[:, 0] > 0.95).all() and (frac[:, -1] < 0.05).all()
    assert ((frac > 0) & (frac < 1)).sum(1).min() >= 10      # masks neither empty nor full
    assert ((frac > 0.05) & (frac < 0.95)).sum(1).min() >= 6


def test_fixture_check_covers_the_separate_aclssl_folder(tmp_path):
    copy = tmp_path / "fixtures"
    shutil.copytree(shared.BUNDLE_ROOT, copy)
    (copy / "aclssl" / "evaluator.json").write_text("{}\n")
    (copy / "aclssl" / "stray.txt").write_text("x")
    out = subprocess.run([sys.executable, str(shared.ROOT / "scripts" / "make_test_fixtures.py"), "--check",
                          "--out", str(copy), "--source", str(tmp_path / "none")],
                         capture_output=True, text=True, cwd=shared.ROOT)
    assert out.returncode == 1
    assert "sha256 differs from aclssl/SHA256SUMS: aclssl/evaluator.json" in out.stdout
    assert "not in aclssl/SHA256SUMS: aclssl/stray.txt" in out.stdout
    assert "not in MANIFEST.json" not in out.stdout


def test_adversarial_cases_follow_the_evaluator_rule():
    """The official evaluator's answers on the crafted maps equal the rule written out here: mask =
    map >= float32(thr) (the threshold meets the float32 map in float32: a value stored exactly at a
    threshold counts), cIoU in float64 without epsilon (0/0 = NaN, failing every cIoU threshold)."""
    ref = json.loads((GOLDEN / "adversarial.json").read_text())
    with np.load(GOLDEN / "adversarial.npz") as z:
        maps = dict(zip(z["map_names"], z["maps"]))
        gts = dict(zip(z["gt_names"], z["gt_maps"].astype(np.float64)))
    assert len(ref["cases"]) == len(maps) * len(gts) == 48
    for k, thr in enumerate(ref["thresholds"]):
        row = ref["per_threshold"][k]
        ours = []
        for case in ref["cases"]:
            m, g = case.split("__")
            mask = (maps[m] >= np.float32(thr)).astype(np.float64)
            gt = gts[g]
            with np.errstate(invalid="ignore"):
                ours.append((mask * gt).sum() / (gt.sum() + (mask * (gt == 0)).sum()))
        expected = np.array([np.nan if c is None else c for c in row["ciou"]])
        np.testing.assert_array_equal(np.array(ours), expected)
        assert abs(100 * np.mean(np.array(ours) >= 0.5) - row["ap50"]) < 1e-12
    # a value stored exactly at a threshold's float32 is inside the mask at that threshold
    at = ref["per_threshold"][ref["thresholds"].index(0.7)]["ciou"][ref["cases"].index("at_thresholds__whole")]
    below = ref["per_threshold"][ref["thresholds"].index(0.7)]["ciou"][ref["cases"].index("one_ulp_below__whole")]
    assert at > below
