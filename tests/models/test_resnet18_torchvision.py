"""The zoo's ResNet-18 (``vssleval/models/resnet18.py``, plain torch) is torchvision's, module for
module: the same ``state_dict`` keys in the same order, the same random weights for a seed (the
same initialisers drawn in the same order), the same maps bit for bit. The zoo's tower no longer
imports torchvision (2-5 CPU-seconds per process); this test does, to hold it to the original."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from vssleval.models.resnet18 import ResNet18


class _TorchvisionTower(ResNet):
    """The tower as it was built on torchvision's classes (the stems re-created, layer4's stride
    changed, ``avgpool`` and maybe ``fc`` deleted), with the zoo's forward."""

    def __init__(self, stems, stem, layer4_stride, fc, pool):
        super().__init__(BasicBlock, [2, 2, 2, 2])
        del self.conv1
        for name, in_ch in stems.items():
            self.add_module(name, nn.Conv2d(int(in_ch), 64, kernel_size=7, stride=2, padding=3, bias=False))
        self.stem_name = stem
        if layer4_stride != 2:
            self.layer4[0].conv1.stride = (layer4_stride, layer4_stride)
            self.layer4[0].downsample[0].stride = (layer4_stride, layer4_stride)
        del self.avgpool
        if not fc:
            del self.fc
        self.pool = pool

    forward = ResNet18.forward


@pytest.mark.parametrize("kwargs", [
    {"stems": {"conv1": 3}, "stem": "conv1", "layer4_stride": 2, "fc": False, "pool": None},  # EZ-VSL image
    {"stems": {"conv1": 3, "conv1_a": 1, "conv1_flow": 6}, "stem": "conv1_a", "layer4_stride": 1, "fc": True,
     "pool": "max"},  # LVS / SSL-TIE audio
])
def test_the_tower_is_torchvision_resnet18(kwargs):
    torch.manual_seed(3)
    ours = ResNet18(**kwargs).eval()
    after_ours = torch.rand(1)
    torch.manual_seed(3)
    theirs = _TorchvisionTower(**kwargs).eval()
    assert torch.equal(torch.rand(1), after_ours)  # the same number of draws
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [type(m).__name__ for m in ours.modules()][1:] == [type(m).__name__ for m in theirs.modules()][1:]
    for name in ("running_mean", "running_var"):  # non-trivial statistics, so the batch norms matter
        for m in (ours, theirs):
            for i, bn in enumerate(x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
                getattr(bn, name).copy_(torch.linspace(0.5, 1.5, bn.num_features).roll(i))
    channels = next(iter(kwargs["stems"].values())) if kwargs["stem"] == "conv1" else kwargs["stems"][kwargs["stem"]]
    x = torch.randn(2, channels, 96, 80)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
