"""The fixtures' deterministic weight rule, written for these tests (docs/testing.md).

Every tensor of a model's bare state dict (no ``module.`` prefix) is drawn from its own
``torch.Generator`` seeded with ``zlib.crc32(key)``, so a value depends only on the key and the shape:

==========================================  =============================================
key / tensor                                value (drawn in float32, cast to the dtype)
==========================================  =============================================
ends with ``num_batches_tracked``           zero
ends with ``running_var``                   ``0.5 + rand``
ends with ``running_mean``                  ``0.1 * randn``
two or more dims                            ``randn * sqrt(2 / prod(shape[1:]))``
one dim, ends with ``.weight`` (BatchNorm)  ``1 + 0.1 * randn``
one dim, otherwise (a bias)                 ``0.01 * randn``
==========================================  =============================================

A manifest lists each tensor's key, shape, dtype and the sha256 of its bytes, and the checkpoint
container the released file uses (top-level key, key prefix, file name).
"""

from __future__ import annotations

import hashlib
import math
import zlib

import torch

DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
          "int64": torch.int64, "int32": torch.int32}


def tensor(key: str, shape, dtype: torch.dtype) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=dtype)
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    if key.endswith("running_var"):
        value = 0.5 + torch.rand(shape, generator=gen)
    elif key.endswith("running_mean"):
        value = 0.1 * torch.randn(shape, generator=gen)
    elif len(shape) >= 2:
        value = torch.randn(shape, generator=gen) * math.sqrt(2.0 / math.prod(shape[1:]))
    elif len(shape) == 1 and key.endswith(".weight"):
        value = 1 + 0.1 * torch.randn(shape, generator=gen)
    elif len(shape) == 1:
        value = 0.01 * torch.randn(shape, generator=gen)
    else:
        raise ValueError(f"the weight rule has no case for the 0-d tensor {key}")
    return value.to(dtype)


def state_dict(manifest: dict) -> dict[str, torch.Tensor]:
    """The bare state dict of a manifest, keys in sorted order."""
    return {t["key"]: tensor(t["key"], t["shape"], DTYPES[t["dtype"]])
            for t in sorted(manifest["tensors"], key=lambda t: t["key"])}


def wrap_checkpoint(manifest: dict, sd: dict) -> dict:
    """The object the released checkpoint file holds: ``{container_key: {prefix + key: tensor}}``,
    or the prefixed state dict itself when the manifest names no container key."""
    block = manifest["checkpoint"]
    prefix = block.get("key_prefix") or ""
    inner = {prefix + k: v for k, v in sd.items()}
    return {block["container_key"]: inner} if block.get("container_key") else inner


def sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()
