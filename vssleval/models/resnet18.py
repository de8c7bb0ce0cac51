"""The ResNet-18 tower of the zoo: torchvision's ResNet-18 with the changes the VSSL papers made.

Its own module because it imports torchvision, whose import costs 2-5 CPU-seconds (it imports
``torch._dynamo``): :mod:`vssleval.models.backbones` imports this module only when a ResNet tower is
built, so ``synth-ezvsl``, the baselines and ACL-SSL never pay it. The facts (layer strides, stems,
key counts) are in docs/models.md §2.1 and §2.2.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from vssleval.errors import VsslevalError
from vssleval.models.pooling import global_pool


class ResNet18(ResNet):
    """torchvision ResNet-18 (BasicBlock, [2, 2, 2, 2]) with the modifications the VSSL papers use.

    Args:
        stems: stem convolutions to create, name -> input channels. torchvision has one,
            ``{"conv1": 3}``; the EZ-VSL audio net uses ``{"conv1": 1}``; the LVS/SSL-TIE nets carry
            three (``conv1`` 3-ch, ``conv1_a`` 1-ch audio, ``conv1_flow`` 6-ch unused) so that their
            checkpoints load strictly. All are 7x7, stride 2, padding 3, no bias.
        stem: which stem the forward pass uses.
        layer4_stride: 2 (torchvision, 224 px -> 7x7) or 1 (LVS family, 224 px -> 14x14).
        fc: keep torchvision's unused ``fc`` Linear(512, 1000) (its keys are in the LVS, SSL-TIE and
            SACL checkpoints; EZ-VSL/SLAVC/FNAC replaced it by Identity, so they have no ``fc.*``).
        pool: ``None`` -> layer4 map ``[B, 512, h, w]`` (post-ReLU, non-negative);
            ``"max"`` -> global max pool ``[B, 512]`` (the audio nets).

    The forward pass is conv stem -> bn1 -> relu -> maxpool -> layer1..4 [-> pool]; ``avgpool``
    and ``fc`` are never applied.
    """

    out_channels = 512

    def __init__(
        self,
        stems: dict[str, int] | None = None,
        stem: str = "conv1",
        layer4_stride: int = 2,
        fc: bool = False,
        pool: str | None = None,
    ):
        super().__init__(BasicBlock, [2, 2, 2, 2])
        stems = dict(stems or {"conv1": 3})
        if stem not in stems:
            raise VsslevalError(f"stem {stem!r} is not among the stems {sorted(stems)}")
        del self.conv1  # re-created below in the requested order/channels
        for name, in_ch in stems.items():
            self.add_module(name, nn.Conv2d(int(in_ch), 64, kernel_size=7, stride=2, padding=3, bias=False))
        self.stem_name = stem
        if layer4_stride != 2:
            block = self.layer4[0]
            block.conv1.stride = (layer4_stride, layer4_stride)
            block.downsample[0].stride = (layer4_stride, layer4_stride)
        # parameter-free in torchvision, never used here
        del self.avgpool
        if not fc:
            del self.fc
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        # one name, rebound at every step: each stage's output is freed as soon as the next one
        # exists (in a nested call the stem's 64-channel half-resolution maps -- 11 MB per input
        # for a 257 x 670 mel -- stayed alive until the max-pool returned)
        x = getattr(self, self.stem_name)(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
        return global_pool(x, self.pool)
