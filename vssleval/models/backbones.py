"""Encoder towers shared by the zoo: ResNet-18 variants, VGGish and a small CNN.

Every tower maps an input batch to a feature map ``[B, C, h, w]`` (``pool=None``) or a vector
``[B, C]`` (``pool="max"``, global max pool over h and w) and exposes ``out_channels``.
Module names inside each tower reproduce the official ``state_dict`` keys exactly, because the
released checkpoints are loaded strictly into them.

``build_backbone(spec)`` turns a config dict (``{"arch": "resnet18", ...}``) into a tower, so an
architecture change is a YAML change, not a code branch. The towers' facts (layer strides, stems,
key counts, VGGish layout) are in docs/models.md §2.1, §2.2 and §11.1.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from vssleval.errors import VsslevalError
from vssleval.models.pooling import global_pool


class VGGish(nn.Module):
    """VGGish (the torchvggish layout) plus SACL's 128 -> 512 -> 512 head, averaged over examples.

    Input: log-mel examples ``[B, E, 1, 96, 64]`` (E = 0.96 s examples per clip; a 3 s clip has 3)
    or ``[B, 1, 96, 64]`` (E = 1). Output: ``[B, 512]`` = mean over the E examples of
    ``fc(embeddings(features(x)))``; it can be negative (no final ReLU in ``fc``).
    Keys: ``features.{0,3,6,8,11,13}``, ``embeddings.{0,2,4}``, ``fc.{0,2}`` (weight, bias),
    as in the released ``sound_best.pth``.
    """

    out_channels = 512

    def __init__(self, out_dim: int = 512):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        # channel plan of VGGish: numbers are conv widths, "M" a 2x2 max pool
        for item in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                in_ch = int(item)
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(True),
            nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, 128), nn.ReLU(True),
        )
        self.fc = nn.Sequential(nn.Linear(128, out_dim), nn.ReLU(True), nn.Linear(out_dim, out_dim))
        self.out_channels = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() == 4:
            x = x.unsqueeze(1)
        b, e = x.shape[:2]
        f = self.features(x.reshape(b * e, *x.shape[2:]))
        # channel-last flatten: the order of the TF VGGish weights the embeddings were trained with
        f = f.permute(0, 2, 3, 1).reshape(b * e, -1)
        out = self.fc(self.embeddings(f))
        return out.reshape(b, e, -1).mean(dim=1)


class SmallCNN(nn.Module):
    """A light conv encoder (conv3x3-BN-ReLU blocks, stride 2 each) for small trained models.

    Args:
        in_channels: 3 for images, 1 for spectrograms.
        channels: width of each block; the number of blocks sets the stride (2**len).
        pool: as :class:`vssleval.models.resnet18.ResNet18`.
        input_pool: average-pool the input by this factor first (parameter-free, so the keys do
            not change); 1 = off. A cheap way to make a CPU-trainable tower: 224 px / 4 -> three
            blocks -> 7x7.
    Keys: ``blocks.<i>.{0: conv, 1: bn}``.
    """

    def __init__(self, in_channels: int = 3, channels: tuple[int, ...] = (32, 64, 128, 256, 512),
                 pool: str | None = None, input_pool: int = 1):
        super().__init__()
        self.input_pool = int(input_pool)
        blocks = []
        prev = int(in_channels)
        for ch in channels:
            blocks.append(nn.Sequential(nn.Conv2d(prev, int(ch), 3, stride=2, padding=1, bias=False),
                                        nn.BatchNorm2d(int(ch)), nn.ReLU(inplace=True)))
            prev = int(ch)
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = prev
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.input_pool > 1:
            x = nn.functional.avg_pool2d(x, self.input_pool)
        return global_pool(self.blocks(x), self.pool)


def _resnet18(**kwargs: Any) -> nn.Module:
    """:class:`vssleval.models.resnet18.ResNet18`, imported when first built (plain torch, no
    torchvision: ``import torchvision`` imports ``torch._dynamo`` with it, 2-5 CPU-seconds per
    process)."""
    from vssleval.models.resnet18 import ResNet18

    return ResNet18(**kwargs)


BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "resnet18": _resnet18,
    "vggish": VGGish,
    "small_cnn": SmallCNN,
}


def build_backbone(spec: dict[str, Any]) -> nn.Module:
    """Build a tower from ``{"arch": <name in BACKBONES>, **constructor kwargs}``."""
    spec = dict(spec)
    arch = spec.pop("arch", None)
    if arch not in BACKBONES:
        raise VsslevalError(f"unknown backbone arch {arch!r}; known: {sorted(BACKBONES)}")
    if "channels" in spec:
        spec["channels"] = tuple(spec["channels"])
    try:
        return BACKBONES[arch](**spec)
    except TypeError as exc:
        raise VsslevalError(f"bad options for backbone {arch!r}: {exc}") from exc


# -- the official towers as config dicts (written out in each model's YAML ``model:`` block;
#    docs/models.md §2.1-§2.2) -----------------------------------------------------------------
#: EZ-VSL/SLAVC/FNAC image net: torchvision ResNet-18, fc removed, 224 px -> 512x7x7.
EZ_IMAGE = {"arch": "resnet18", "stems": {"conv1": 3}, "layer4_stride": 2, "fc": False}
#: EZ-VSL/SLAVC/FNAC audio net: 1-channel conv1, global max pool -> [B, 512].
EZ_AUDIO = {"arch": "resnet18", "stems": {"conv1": 1}, "layer4_stride": 2, "fc": False, "pool": "max"}
#: LVS/SSL-Align/SSL-TIE nets carry three stems and fc; layer4 stride 1 -> 512x14x14.
_LVS_STEMS = {"conv1": 3, "conv1_a": 1, "conv1_flow": 6}
LVS_IMAGE = {"arch": "resnet18", "stems": _LVS_STEMS, "stem": "conv1", "layer4_stride": 1, "fc": True}
LVS_AUDIO = {"arch": "resnet18", "stems": _LVS_STEMS, "stem": "conv1_a", "layer4_stride": 1, "fc": True,
             "pool": "max"}
