"""ACL-SSL (Park, Senocak, Chung, WACV 2024), ``swimmiing/ACL-SSL``: CLIPSeg conditioned on audio.

Test path (docs/models.md §17):

* ``encode_image``: CLIP ViT-B/16 at 352 px (22 x 22 patches + CLS, position embeddings resized
  bicubically) -> the outputs of layers 4, 7 and 10, stacked ``[B, 3, 485, 768]``.
* ``encode_audio``: normalised Kaldi fbank ``[B, 998, 128]`` -> BEATs layers 4, 8, 12 concatenated
  ``[B, 496, 2304]`` -> FGA embedder ``[B, 512]`` (the audio token) -> the prompt
  ``[SOS] a photo of [AUDIO] [EOS]`` through CLIP's text encoder (causal mask, last position) and
  text projection -> the audio-driven embedding ``[B, 512]``.
* ``localize``: CLIPSeg's decoder FiLM-conditioned on that embedding -> logits ``[B, 352, 352]``,
  shifted by ``b / w`` from the checkpoint (``raw`` = the heatmap's logit). The preset's map rule
  then upsamples (bicubic to 224) and applies the sigmoid (``map.normalize: sigmoid``); a constant
  shift commutes with the bicubic resize, whose weights sum to one.

Three checkpoint parts (``configs/models/aclssl.yaml``): ``acl`` = ``Param_best.pth``
(``audio_proj`` + ``masker_i``), ``beats`` = the BEATs release, ``clipseg`` = the Hugging Face
folder ``clipseg-rd64-refined``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from vssleval.models.base import VsslModel, pair_batches
from vssleval.models.beats_net import Beats, FgaEmbedder, ImageMasker
from vssleval.models.clipseg_net import ClipSeg
from vssleval.models.registry import register_model

#: CLIP BPE ids of ``<|startoftext|> a photo of`` and ``<|endoftext|>`` (the tokenizer's output for
#: ACL-SSL's prompt ``'A photo of '``; the audio token goes between them).
PROMPT_PREFIX = (49406, 320, 1125, 539)
PROMPT_SUFFIX = (49407,)


class AclHead(nn.Module):
    """The trained part (``Param_best.pth``): ``audio_proj`` (FGA embedder) and ``masker_i``."""

    def __init__(self):
        super().__init__()
        self.audio_proj = FgaEmbedder()
        self.masker_i = ImageMasker()


class AclSsl(VsslModel):
    """ACL-SSL at test time behind the three-method contract (see the module docstring).

    Args:
        vision_layers: 1-based ViT layers the decoder reads (CLIPSeg ``extract_layers`` + 1).
        audio_layers: 1-based BEATs layers concatenated for the FGA embedder.
    """

    def __init__(self, vision_layers: Sequence[int] = (4, 7, 10), audio_layers: Sequence[int] = (4, 8, 12)):
        super().__init__()
        self.vision_layers = tuple(int(k) for k in vision_layers)
        self.audio_layers = tuple(int(k) for k in audio_layers)
        self.acl = AclHead()
        self.beats = Beats()
        self.clipseg = ClipSeg()
        self.register_buffer("prompt_prefix", torch.tensor(PROMPT_PREFIX), persistent=False)
        self.register_buffer("prompt_suffix", torch.tensor(PROMPT_SUFFIX), persistent=False)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised images ``[B, 3, 352, 352]`` -> ViT hidden states ``[B, 3, 485, 768]``
        (layers 4, 7, 10 in that order)."""
        states = self.clipseg.clip.vision_model.hidden_states(images, self.vision_layers)
        return torch.stack(states, dim=1)

    def audio_token(self, fbank: torch.Tensor) -> torch.Tensor:
        """Normalised fbank ``[B, 998, 128]`` -> the FGA audio token ``[B, 512]``."""
        return self.acl.audio_proj(self.beats(fbank, self.audio_layers))

    def prompt_embedding(self, token: torch.Tensor) -> torch.Tensor:
        """Audio tokens ``[B, 512]`` -> the projected prompt embedding ``[B, 512]`` (not normalised)."""
        text = self.clipseg.clip.text_model
        table = text.embeddings.token_embedding
        b = token.shape[0]
        prefix = table(self.prompt_prefix).expand(b, -1, -1)
        suffix = table(self.prompt_suffix).expand(b, -1, -1)
        seq = torch.cat([prefix, token.unsqueeze(1).to(prefix.dtype), suffix], dim=1)
        return self.clipseg.clip.text_projection(text.encode_embeddings(seq))

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Normalised fbank ``[B, 998, 128]`` -> the audio-driven embedding ``[B, 512]``."""
        return self.prompt_embedding(self.audio_token(audio))

    def logits(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Decoder logits ``[B, 352, 352]`` (batch-1 broadcast on either side)."""
        visual, audio = pair_batches(visual, audio)
        return self.clipseg.decoder(list(visual.unbind(dim=1)), audio)

    def localize(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Raw map ``[B, 352, 352]``: the logits plus ``b / w``, i.e. the logit of the heatmap
        ``sigmoid(x + b/w)`` before the bicubic resize to 224."""
        masker = self.acl.masker_i
        return self.logits(visual, audio) + masker.b / masker.w


@register_model("aclssl")
def aclssl(vision_layers: Sequence[int] = (4, 7, 10), audio_layers: Sequence[int] = (4, 8, 12)) -> AclSsl:
    """ACL-SSL at test time (three checkpoint parts, see the YAML ``checkpoint.parts``)."""
    return AclSsl(vision_layers, audio_layers)
