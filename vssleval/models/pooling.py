"""The towers' optional global pooling (``pool=`` of every backbone), in one place for all of them."""

from __future__ import annotations

import torch

from vssleval.errors import VsslevalError


def global_pool(x: torch.Tensor, pool: str | None) -> torch.Tensor:
    """``None`` keeps the map; ``"max"`` is ``AdaptiveMaxPool2d(1)`` + flatten -> ``[B, C]``."""
    if pool is None or pool == "none":
        return x
    if pool == "max":
        return torch.amax(x, dim=(2, 3))
    raise VsslevalError(f"unknown pool {pool!r}; expected none or max")
