"""The ResNet-18 tower of the zoo: torchvision's ResNet-18 with the changes the VSSL papers made.

torchvision's ``ResNet`` / ``BasicBlock`` (``torchvision/models/resnet.py``, BSD-3-Clause) written
out here in plain torch, module for module, so that building a tower does not ``import
torchvision``: that import pulls in all of ``torchvision.ops`` and with it ``torch._dynamo``, 2-5
CPU-seconds per process (each CLI run of a ResNet model, each ``torchrun`` rank, each DataLoader
worker that builds one). Same modules created in the same order, the same initialisers called in
the same order, the same forward operations: the same ``state_dict`` keys and, for a given seed,
the same random weights and the same maps bit for bit
(``tests/models/test_models_parity_native.py`` holds it to torchvision's classes). The facts
(layer strides, stems, key counts) are in docs/models.md §2.1 and §2.2.
"""

from __future__ import annotations

import torch
from torch import nn

from vssleval.errors import VsslevalError
from vssleval.models.pooling import global_pool


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock`` (groups 1, width 64, no dilation): two 3 x 3 convolutions with
    batch norm, the (optionally downsampled) input added before the last ReLU."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ``ResNet(BasicBlock, layers)`` constructor (1000 classes, no zero-init of the
    residual batch norms): its modules, in its order, initialised as it initialises them."""

    def __init__(self, layers: list[int], num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * BasicBlock.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * BasicBlock.expansion),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        layers += [BasicBlock(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


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
        super().__init__([2, 2, 2, 2])
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
