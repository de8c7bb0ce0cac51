"""Deterministic substitute weights for ACL-SSL's three released parts (docs/models.md §18).

ACL-SSL ships no single checkpoint: a run needs the CLIPSeg weights of ``CIDAS/clipseg-rd64-refined``
(a Hugging Face folder), the BEATs iter3+ AS2M checkpoint (``{'cfg', 'model'}``) and the authors'
``Param_best.pth`` (``{'audio_proj', 'masker_i'}``). The tests and the reference harness need stand-ins
for all three that anybody can rebuild bit for bit, so every tensor is drawn from a manifest (key ->
shape, dtype) by the same per-key rule as the other models' fixtures (tests/weight_rule.py):

==========================================  =============================================
key / tensor                                value (drawn in float32, cast to the dtype)
==========================================  =============================================
ends with ``num_batches_tracked``           zero
ends with ``running_var``                   ``0.5 + rand``
ends with ``running_mean``                  ``0.1 * randn``
two or more dims                            ``randn * sqrt(2 / prod(shape[1:]))``
one dim, ends with ``.weight`` (a norm)     ``1 + 0.1 * randn``
one dim, otherwise (a bias)                 ``0.01 * randn``
==========================================  =============================================

with a fresh ``torch.Generator`` seeded by ``zlib.crc32(seed key)`` per tensor, and these ACL-specific
cases, which the generic rule cannot express:

* ``*position_ids`` (int64 buffers of transformers 4.25.1's CLIP embeddings): ``arange`` (what the
  model registers; any other value would index the wrong position embeddings);
* 0-d ``clip.logit_scale``: 2.6592, CLIP's initial value (not used at test time);
* 0-d masker scalars ``w``, ``b`` of ``Param_best.pth``: ``MASKER_W``, ``MASKER_B`` below, chosen so that
  the test map ``sigmoid(logit + b/w)`` crosses the evaluator's 19 thresholds inside the image (the
  sigmoid's midpoint lies inside the range of the substitute decoder's logits on the fixture clips);
* BEATs shares one relative-position-bias module between its 12 layers, so the state dict repeats
  it under every layer's prefix: those keys are all drawn with the seed key of layer 0, else a strict
  load would keep whichever copy came last.

The module needs only torch (no transformers): ``python aclssl_weights.py --out DIR`` writes
``DIR/Param_best.pth``, ``DIR/BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt`` and
``DIR/clipseg-rd64-refined/{config.json,pytorch_model.bin}`` from the manifests in
``tests/fixtures/aclssl/manifests/``; ``--verify`` checks every tensor's sha256 against them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
import zlib
from pathlib import Path

import torch

RULE_VERSION = "vssleval-aclssl-crc32-v1"
ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIR = ROOT / "tests" / "fixtures" / "aclssl" / "manifests"
PARTS = ("param_best", "beats", "clipseg")

# The masker scalars of the substitute Param_best.pth. The test map is sigmoid(logit + b/w)
# (docs/models.md, ACL-SSL map rule); b/w = -MASKER_MID puts the 0.5 level at logit MASKER_MID,
# which sits inside the substitute decoder's logit range on the fixture clips (the harness
# prints that range and the fraction of pixels above each threshold).
MASKER_W = 10.0
MASKER_B = 2.5
CLIP_LOGIT_SCALE = 2.6592

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "int64": torch.int64, "int32": torch.int32}

# BEATs layer n > 0 aliases layer 0's relative_attention_bias (one shared module).
_SHARED_BIAS = re.compile(r"^encoder\.layers\.\d+\.self_attn\.relative_attention_bias\.weight$")

# The three release files, where each goes in a checkpoint folder (docs/models.md).
FILES = {"param_best": "Param_best.pth",
         "beats": "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt",
         "clipseg": "clipseg-rd64-refined"}

# BEATs iter3+ fine-tuned on AS2M: the cfg stored in the release's 'cfg' entry (docs/models.md).
BEATS_CFG = {
    "input_patch_size": 16, "embed_dim": 512, "conv_bias": False,
    "encoder_layers": 12, "encoder_embed_dim": 768, "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12, "activation_fn": "gelu",
    "layer_wise_gradient_decay_ratio": 0.6, "layer_norm_first": False, "deep_norm": True,
    "dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "encoder_layerdrop": 0.05,
    "dropout_input": 0.0, "conv_pos": 128, "conv_pos_groups": 16,
    "relative_position_embedding": True, "num_buckets": 320, "max_distance": 800, "gru_rel_pos": True,
    "finetuned_model": True, "predictor_dropout": 0.0, "predictor_class": 527,
}

# CIDAS/clipseg-rd64-refined's config (transformers' CLIPSeg conversion values; docs/models.md).
CLIPSEG_CONFIG = {
    "architectures": ["CLIPSegForImageSegmentation"],
    "model_type": "clipseg",
    "conditional_layer": 0,
    "decoder_attention_dropout": 0.0,
    "decoder_hidden_act": "quick_gelu",
    "decoder_intermediate_size": 2048,
    "decoder_num_attention_heads": 4,
    "extract_layers": [3, 6, 9],
    "initializer_factor": 1.0,
    "logit_scale_init_value": CLIP_LOGIT_SCALE,
    "projection_dim": 512,
    "reduce_dim": 64,
    "use_complex_transposed_convolution": True,
    "torch_dtype": "float32",
    "transformers_version": "4.25.1",
    "text_config": {
        "model_type": "clipseg_text_model", "vocab_size": 49408, "hidden_size": 512,
        "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8,
        "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05,
        "attention_dropout": 0.0, "dropout": 0.0, "initializer_range": 0.02, "initializer_factor": 1.0,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
    },
    "vision_config": {
        "model_type": "clipseg_vision_model", "hidden_size": 768, "intermediate_size": 3072,
        "num_hidden_layers": 12, "num_attention_heads": 12, "num_channels": 3, "image_size": 224,
        "patch_size": 16, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05, "attention_dropout": 0.0,
        "dropout": 0.0, "initializer_range": 0.02, "initializer_factor": 1.0,
    },
}


def seed_key(key: str) -> str:
    """The key whose crc32 seeds ``key``'s generator (aliases of a shared tensor share it)."""
    if _SHARED_BIAS.match(key):
        return "encoder.layers.0.self_attn.relative_attention_bias.weight"
    return key


def init_kind(key: str, shape: tuple[int, ...], dtype: torch.dtype) -> str:
    """Which case of the rule (module docstring) gives ``key``'s value."""
    if key.endswith("position_ids"):
        return "arange"
    if key.endswith("num_batches_tracked"):
        return "zero"
    if not dtype.is_floating_point:
        raise ValueError(f"the ACL weight rule has no case for the integer tensor {key}")
    if len(shape) == 0:
        if key in ("w", "b", "clip.logit_scale"):
            return "constant"
        raise ValueError(f"the ACL weight rule has no case for the 0-d tensor {key}")
    if key.endswith("running_var"):
        return "running_var"
    if key.endswith("running_mean"):
        return "running_mean"
    if len(shape) >= 2:
        return "he_fan_in"
    return "norm_weight" if key.endswith(".weight") else "bias"


_CONSTANTS = {"w": MASKER_W, "b": MASKER_B, "clip.logit_scale": CLIP_LOGIT_SCALE}


def tensor(key: str, shape, dtype: torch.dtype) -> torch.Tensor:
    """The rule's value for one key. ``shape``: ints; the value depends only on key, shape, dtype."""
    shape = tuple(int(s) for s in shape)
    kind = init_kind(key, shape, dtype)
    if kind == "arange":
        return torch.arange(shape[-1], dtype=dtype).expand(shape).contiguous()
    if kind == "zero":
        return torch.zeros(shape, dtype=dtype)
    if kind == "constant":
        return torch.tensor(_CONSTANTS[key], dtype=dtype)
    gen = torch.Generator().manual_seed(zlib.crc32(seed_key(key).encode()))
    if kind == "running_var":
        value = 0.5 + torch.rand(shape, generator=gen)
    elif kind == "running_mean":
        value = 0.1 * torch.randn(shape, generator=gen)
    elif kind == "he_fan_in":
        value = torch.randn(shape, generator=gen) * math.sqrt(2.0 / math.prod(shape[1:]))
    elif kind == "norm_weight":
        value = 1 + 0.1 * torch.randn(shape, generator=gen)
    else:
        value = 0.01 * torch.randn(shape, generator=gen)
    return value.to(dtype)


def sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's raw bytes (C order)."""
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()


def load_manifest(part: str, manifest_dir: Path = MANIFEST_DIR) -> dict:
    """The manifest of one part (``param_best``, ``beats`` or ``clipseg``)."""
    return json.loads((Path(manifest_dir) / f"{part}.json").read_text())


def state_dict(manifest: dict) -> dict[str, torch.Tensor]:
    """Flat ``{key: tensor}`` of a manifest, in the manifest's order (the official module order)."""
    return {t["key"]: tensor(t["key"], t["shape"], DTYPES[t["dtype"]]) for t in manifest["tensors"]}


def container(part: str, sd: dict[str, torch.Tensor]) -> dict:
    """The object the released file of ``part`` holds, built from the flat state dict ``sd``.

    ``param_best``: ``{'audio_proj': {...}, 'masker_i': {'w', 'b'}}`` (flat keys ``audio_proj.*``
    and ``masker_i.*``); ``beats``: ``{'cfg': BEATS_CFG, 'model': sd}``; ``clipseg``: ``sd`` itself
    (it goes into ``pytorch_model.bin``)."""
    if part == "param_best":
        out: dict = {"audio_proj": {}, "masker_i": {}}
        for k, v in sd.items():
            top, rest = k.split(".", 1)
            out[top][rest] = v
        return out
    if part == "beats":
        return {"cfg": dict(BEATS_CFG), "model": dict(sd)}
    return dict(sd)


def _flat_key(part: str, key: str) -> str:
    """The key the rule sees: ``Param_best.pth``'s masker scalars are 'w'/'b' (its own module)."""
    if part == "param_best" and key.startswith("masker_i."):
        return key.split(".", 1)[1]
    if part == "param_best" and key.startswith("audio_proj."):
        return key.split(".", 1)[1]
    return key


def part_state_dict(part: str, manifest_dir: Path = MANIFEST_DIR) -> dict[str, torch.Tensor]:
    """The flat state dict of a part; Param_best's keys keep their ``audio_proj.``/``masker_i.``
    prefix, but each value is drawn with the bare key of its own module."""
    m = load_manifest(part, manifest_dir)
    return {t["key"]: tensor(_flat_key(part, t["key"]), t["shape"], DTYPES[t["dtype"]]) for t in m["tensors"]}


def write_checkpoint_dir(out: Path, manifest_dir: Path = MANIFEST_DIR) -> dict[str, Path]:
    """Write the three parts into ``out`` laid out as the releases are; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part in PARTS:
        sd = part_state_dict(part, manifest_dir)
        if part == "clipseg":
            folder = out / FILES[part]
            folder.mkdir(exist_ok=True)
            (folder / "config.json").write_text(json.dumps(CLIPSEG_CONFIG, indent=2, sort_keys=True) + "\n")
            torch.save(container(part, sd), folder / "pytorch_model.bin")
            paths[part] = folder
        else:
            torch.save(container(part, sd), out / FILES[part])
            paths[part] = out / FILES[part]
    return paths


def manifest_from_state_dict(name: str, sd: dict[str, torch.Tensor], checkpoint: dict) -> dict:
    """A manifest (key, shape, dtype, init kind, numel, sha256 of the rule's value) for ``sd``'s keys;
    ``checkpoint`` describes the release container. Used once, by the harness, to record the
    official modules' key sets."""
    tensors = []
    for key, t in sd.items():
        shape = list(t.shape)
        dt = str(t.dtype).replace("torch.", "")
        rule_key = _flat_key(name, key)
        value = tensor(rule_key, shape, t.dtype)
        tensors.append({"key": key, "shape": shape, "dtype": dt,
                        "init": init_kind(rule_key, tuple(shape), t.dtype), "numel": int(t.numel()),
                        "sha256": sha256(value)})
    return {"name": name, "rule": RULE_VERSION, "checkpoint": checkpoint, "tensors": tensors}


def verify(part: str, manifest_dir: Path = MANIFEST_DIR) -> list[str]:
    """Keys whose rule value no longer matches the manifest's sha256 (empty = all match)."""
    m = load_manifest(part, manifest_dir)
    sd = part_state_dict(part, manifest_dir)
    return [t["key"] for t in m["tensors"] if sha256(sd[t["key"]]) != t["sha256"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="checkpoint folder to write (the three release files)")
    ap.add_argument("--verify", action="store_true", help="check every tensor's sha256 against the manifests")
    ap.add_argument("--manifests", type=Path, default=MANIFEST_DIR, help="manifest folder (default: %(default)s)")
    a = ap.parse_args(argv)
    missing = [p for p in PARTS if not (a.manifests / f"{p}.json").is_file()]
    if missing:
        print(f"{a.manifests}: no manifest for {', '.join(missing)} (expected <part>.json; the repository "
              "keeps them in tests/fixtures/aclssl/manifests/)", file=sys.stderr)
        return 2
    if a.out and a.out.exists() and not a.out.is_dir():
        print(f"--out {a.out}: exists and is not a folder", file=sys.stderr)
        return 2
    status = 0
    if a.verify:
        for part in PARTS:
            bad = verify(part, a.manifests)
            n = len(load_manifest(part, a.manifests)["tensors"])
            print(f"{part}: {n} tensors, {len(bad)} sha256 mismatches" + ("".join("\n  " + k for k in bad[:10])))
            status |= bool(bad)
    if a.out:
        for part, path in write_checkpoint_dir(a.out, a.manifests).items():
            print(f"wrote {part}: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
