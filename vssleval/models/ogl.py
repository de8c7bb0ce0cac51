"""OGL object prior: ImageNet ResNet-18, mean |layer4| over channels (Mo & Morgado's "OGL").

Architecture: torchvision ``resnet18`` with its standard ImageNet weights file
(``resnet18-f37072fd.pth``, 122 keys, bare); ``avgpool``/``fc`` are not run.
Map: ``mean_c |layer4[c, h, w]|`` of the normalised 224x224 image, ``[B, 7, 7]``, not normalised
(vssl_eval's form; the upstream repos min-max it before blending). Audio-agnostic.
The weights are never downloaded here: without a checkpoint the file is taken from torch's hub
cache, and its absence is an error that says where to put it.
Facts: docs/models.md §12.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vssleval.errors import VsslevalError
from vssleval.models.resnet18 import ResNet18
from vssleval.models.base import VsslModel, pair_batches
from vssleval.models.registry import register_model

TORCHVISION_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"


def torchvision_weights_path() -> Path:
    """Where torchvision keeps the ImageNet ResNet-18 file: ``$TORCH_HOME/hub/checkpoints/``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_URL.rsplit("/", 1)[1]


@register_model("ogl")
class ObjectPrior(VsslModel):
    """Object-saliency map of an ImageNet ResNet-18."""

    def __init__(self) -> None:
        super().__init__()
        self.net = ResNet18(stems={"conv1": 3}, layer4_stride=2, fc=True)

    def default_checkpoint(self) -> Path:
        path = torchvision_weights_path()
        if not path.is_file():
            raise VsslevalError(
                f"the OGL object prior needs torchvision's ImageNet ResNet-18 weights file "
                f"{path.name}, which is not on this machine and is not downloaded automatically. "
                f"Fetch {TORCHVISION_URL} and place it at {path} (or set TORCH_HOME), "
                "or pass that file as the OGL model's checkpoint (build_model(\"ogl\", checkpoint=<file>))")
        return path

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 224, 224]`` -> object map ``[B, 7, 7]`` (the prior is the image feature)."""
        return self.net(images).abs().mean(dim=1)

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Any ``[B, ...]`` -> ``[B, 0]`` (ignored)."""
        return audio.new_zeros(audio.shape[0], 0)

    def similarity(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        visual, _ = pair_batches(visual, audio)
        return visual
