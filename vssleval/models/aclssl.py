"""ACL-SSL (Park, Senocak, Chung, WACV 2024), ``swimmiing/ACL-SSL``: CLIPSeg conditioned on audio.

Test path (docs/models.md §17):

* ``encode_image``: CLIP ViT-B/16 at 352 px (22 x 22 patches + CLS, position embeddings resized
  bicubically) -> the outputs of layers 4, 7 and 10 (what the decoder reads), stacked
  ``[B, 3, 485, 768]``; the ViT stops there.
* ``encode_audio``: normalised Kaldi fbank ``[B, 998, 128]`` -> BEATs layers 4, 8, 12 concatenated
  ``[B, 496, 2304]`` -> FGA embedder ``[B, 512]`` (the audio token) -> the prompt
  ``[SOS] a photo of [AUDIO] [EOS]`` through CLIP's text encoder (causal mask, last position) and
  text projection -> the audio-driven embedding ``[B, 512]``.
* ``localize``: CLIPSeg's decoder FiLM-conditioned on that embedding -> logits ``[B, 352, 352]``,
  shifted by ``b / w`` from the checkpoint (``raw`` = the heatmap's logit). The preset's map rule
  then upsamples (bicubic to 224) and applies the sigmoid (``map.normalize: sigmoid``); a constant
  shift commutes with the bicubic resize, whose weights sum to one.
* ``confidence`` (the engine's optional hook; the extended-set evaluator's score): the cosine
  between the audio-driven embedding and MaskCLIP-style dense CLIP features of the image pooled
  under a soft mask made from the decoder logits (docs/models.md §17.5). It continues the ViT from
  layer 10 through layer 11, so it costs only the runs that score it (the extended sets).

Three checkpoint parts (``configs/models/aclssl.yaml``): ``acl`` = ``Param_best.pth``
(``audio_proj`` + ``masker_i``), ``beats`` = the BEATs release, ``clipseg`` = the Hugging Face
folder ``clipseg-rd64-refined``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
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
        feature_mask: the soft mask of the confidence (ACL-SSL's ``FeatureMasker``):
            ``threshold`` and ``temperature`` of ``sigmoid((minmax(logits) - threshold) /
            temperature)``, and the ``margin`` widening the min-max range on both sides.
    """

    def __init__(self, vision_layers: Sequence[int] = (4, 7, 10), audio_layers: Sequence[int] = (4, 8, 12),
                 feature_mask: Mapping[str, float] | None = None):
        super().__init__()
        self.vision_layers = tuple(int(k) for k in vision_layers)
        self.audio_layers = tuple(int(k) for k in audio_layers)
        self.feature_mask_args = {**FEATURE_MASK, **dict(feature_mask or {})}
        self.acl = AclHead()
        self.beats = Beats()
        self.clipseg = ClipSeg()
        self.register_buffer("prompt_prefix", torch.tensor(PROMPT_PREFIX), persistent=False)
        self.register_buffer("prompt_suffix", torch.tensor(PROMPT_SUFFIX), persistent=False)

    @property
    def dense_layer(self) -> int:
        """The ViT layer whose output feeds the value-only last layer (11 of 12)."""
        return len(self.clipseg.clip.vision_model.encoder.layers) - 1

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised images ``[B, 3, 352, 352]`` -> ViT hidden states ``[B, L, 485, 768]``:
        the ``L`` layers the decoder reads (4, 7, 10 in that order); the ViT stops after the last."""
        states = self.clipseg.clip.vision_model.hidden_states(images, self.vision_layers)
        by_layer = dict(zip(sorted(set(self.vision_layers)), states))
        return torch.stack([by_layer[k] for k in self.vision_layers], dim=1)

    def dense_input(self, visual: torch.Tensor) -> torch.Tensor:
        """The output of ViT layer 11 ``[B, 485, 768]`` (the input of the value-only last layer),
        continued from the deepest layer in ``visual``: only :meth:`confidence` needs it, so a run
        that scores no confidence never pays for it."""
        deepest = max(self.vision_layers)
        x = visual[:, self.vision_layers.index(deepest)]
        for layer in self.clipseg.clip.vision_model.encoder.layers[deepest:self.dense_layer]:
            x = layer(x)
        return x

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

    def confidence(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """ACL-SSL's score for the extended sets, ``[B]``: the cosine between the audio-driven
        embedding and the image's dense CLIP features pooled under a soft mask of the decoder
        logits (docs/models.md §17.5).

        The dense features are :meth:`Clip.dense_features` of layer 11 (``[B, 512, 22, 22]``);
        the mask is :func:`patch_mask` of the raw 352 logits (not shifted by ``b / w``), read
        at each patch's top-left pixel. The pooled feature is the mask-weighted mean (only its
        direction matters to the cosine). Batch-1 broadcast on either side, as :meth:`localize`.
        """
        dense = self.clipseg.clip.dense_features(self.dense_input(visual))
        mask = patch_mask(self.logits(visual, audio), dense.shape[-1], **self.feature_mask_args)
        dense, audio = pair_batches(dense, audio)
        pooled = torch.einsum("bchw,bhw->bc", dense, mask) / (mask.sum(dim=(1, 2))[:, None] + 1e-6)
        return F.cosine_similarity(pooled, audio.to(pooled.dtype), dim=1)


#: ACL-SSL's ``FeatureMasker(0.5, 0.07)`` and the min-max margin of its ``norm_img_tensor``
FEATURE_MASK = {"threshold": 0.5, "temperature": 0.07, "margin": 1e-7}


def patch_mask(logits: torch.Tensor, size: int, threshold: float, temperature: float,
                 margin: float) -> torch.Tensor:
    """Soft mask ``[B, size, size]`` from logits ``[B, H, W]``: per-map min-max over a range widened
    by ``margin`` on both sides, ``sigmoid((. - threshold) / temperature)``, then nearest
    resampling (pixel ``(i * H // size, j * W // size)``)."""
    lo = logits.amin(dim=(1, 2), keepdim=True) - margin
    hi = logits.amax(dim=(1, 2), keepdim=True) + margin
    soft = torch.sigmoid(((logits - lo) / (hi - lo) - threshold) / temperature)
    return F.interpolate(soft[:, None], size=size, mode="nearest")[:, 0]


@register_model("aclssl")
def aclssl(vision_layers: Sequence[int] = (4, 7, 10), audio_layers: Sequence[int] = (4, 8, 12),
           feature_mask: Mapping[str, float] | None = None) -> AclSsl:
    """ACL-SSL at test time (three checkpoint parts, see the YAML ``checkpoint.parts``)."""
    return AclSsl(vision_layers, audio_layers, feature_mask)
