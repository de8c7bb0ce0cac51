"""CLIPSeg (CLIP ViT-B/16 + text transformer + the "refined" FiLM decoder) in plain torch.

Module and parameter names follow the Hugging Face checkpoint ``CIDAS/clipseg-rd64-refined``
(``clip.vision_model.*``, ``clip.text_model.*``, ``clip.text_projection``, ``decoder.*``), so the
published ``pytorch_model.bin`` / ``model.safetensors`` loads strictly without renaming.
Only what ACL-SSL's test path uses computes anything: the decoder's hidden states, the prompt
embedding and, for the extended-set confidence, MaskCLIP-style dense features
(:meth:`Clip.dense_features`, which reads ``post_layernorm`` and ``visual_projection``);
``logit_scale`` exists so the strict key check covers the whole file. Facts: docs/models.md §17.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """CLIP's activation ``x * sigmoid(1.702 x)``."""
    return x * torch.sigmoid(1.702 * x)


class Attention(nn.Module):
    """Multi-head self-attention of CLIP/CLIPSeg (q/k/v/out projections with bias)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.q_proj, self.k_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.v_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[B, T, D]``; ``mask`` additive ``[T, T]`` or None -> ``[B, T, D]``."""
        b, t, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q_proj(x) * self.scale), split(self.k_proj(x)), split(self.v_proj(x))
        w = q @ k.transpose(-1, -2)
        if mask is not None:
            w = w + mask
        out = torch.softmax(w, dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, act):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(dim, hidden), nn.Linear(hidden, dim), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    """One transformer layer: pre-LN (CLIP towers) or post-LN (CLIPSeg decoder)."""

    def __init__(self, dim: int, heads: int, hidden: int, act=quick_gelu, post_norm: bool = False):
        super().__init__()
        self.self_attn = Attention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, hidden, act)
        self.layer_norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.post_norm = post_norm

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.post_norm:
            x = self.layer_norm1(x + self.self_attn(x, mask))
            return self.layer_norm2(x + self.mlp(x))
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, layers: int, dim: int, heads: int, hidden: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, hidden) for _ in range(layers))


class VisionEmbeddings(nn.Module):
    """Patch embedding + CLS + learned positions for a ``grid x grid`` layout (224 px / 16)."""

    def __init__(self, dim: int = 768, patch: int = 16, image_size: int = 224):
        super().__init__()
        self.patch = patch
        self.grid = image_size // patch
        self.class_embedding = nn.Parameter(torch.zeros(dim))
        self.patch_embedding = nn.Conv2d(3, dim, patch, patch, bias=False)
        self.position_embedding = nn.Embedding(self.grid * self.grid + 1, dim)

    def positions(self, grid: int) -> torch.Tensor:
        """Position embeddings ``[1 + grid^2, D]``; other grids than the stored one are obtained as
        CLIPSeg does: the patch positions as a ``[1, D, 14, 14]`` image, torch bicubic
        (align_corners False) to ``grid x grid``, the CLS position kept (docs/models.md §17.2)."""
        weight = self.position_embedding.weight
        if grid == self.grid:
            return weight
        d = weight.shape[1]
        patches = weight[1:].T.reshape(1, d, self.grid, self.grid)
        resized = F.interpolate(patches, size=(grid, grid), mode="bicubic", align_corners=False)
        return torch.cat([weight[:1], resized.reshape(d, grid * grid).T])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B, 1 + (H/16)^2, D]``."""
        x = self.patch_embedding(images).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1)
        grid = math.isqrt(x.shape[1] - 1)
        return x + self.positions(grid)


class VisionTransformer(nn.Module):
    def __init__(self, dim: int = 768, layers: int = 12, heads: int = 12, hidden: int = 3072,
                 patch: int = 16, image_size: int = 224):
        super().__init__()
        self.embeddings = VisionEmbeddings(dim, patch, image_size)
        self.pre_layrnorm = nn.LayerNorm(dim, eps=1e-5)  # (sic: the checkpoint's spelling)
        self.encoder = Encoder(layers, dim, heads, hidden)
        self.post_layernorm = nn.LayerNorm(dim, eps=1e-5)

    def hidden_states(self, images: torch.Tensor, wanted: tuple[int, ...]) -> list[torch.Tensor]:
        """Outputs of the layers numbered in ``wanted`` (1-based, as Hugging Face's
        ``hidden_states[k]``), each ``[B, T, D]``; stops after the last one needed."""
        x = self.pre_layrnorm(self.embeddings(images))
        out = []
        for k, layer in enumerate(self.encoder.layers[:max(wanted)], start=1):
            x = layer(x)
            if k in wanted:
                out.append(x)
        return out


class TextEmbeddings(nn.Module):
    def __init__(self, vocab: int = 49408, dim: int = 512, positions: int = 77):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(positions, dim)


class TextTransformer(nn.Module):
    def __init__(self, vocab: int = 49408, dim: int = 512, layers: int = 12, heads: int = 8, hidden: int = 2048):
        super().__init__()
        self.embeddings = TextEmbeddings(vocab, dim)
        self.encoder = Encoder(layers, dim, heads, hidden)
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-5)

    def encode_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token embeddings ``[B, T, D]`` (already looked up) -> the last position after the causal
        encoder and the final LN, ``[B, D]`` (ACL pools the last position, not the EOS argmax)."""
        t = tokens.shape[1]
        x = tokens + self.embeddings.position_embedding.weight[:t]
        mask = torch.full((t, t), torch.finfo(x.dtype).min, dtype=x.dtype, device=x.device).triu(1)
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return self.final_layer_norm(x)[:, -1]


def value_only_layer(layer: EncoderLayer, x: torch.Tensor) -> torch.Tensor:
    """A pre-LN layer with its attention reduced to the value path (MaskCLIP): ``x + out_proj(
    v_proj(LN1(x)))``, then ``+ MLP(LN2(.))``. Each token keeps its own features instead of mixing
    with the others, so the output stays spatially dense. ``[B, T, D]`` -> ``[B, T, D]``."""
    attn = layer.self_attn
    x = x + attn.out_proj(attn.v_proj(layer.layer_norm1(x)))
    return x + layer.mlp(layer.layer_norm2(x))


class Clip(nn.Module):
    def __init__(self):
        super().__init__()
        self.text_model = TextTransformer()
        self.vision_model = VisionTransformer()
        self.visual_projection = nn.Linear(768, 512, bias=False)
        self.text_projection = nn.Linear(512, 512, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))

    def dense_features(self, last_input: torch.Tensor) -> torch.Tensor:
        """MaskCLIP-style dense image features in CLIP's joint space (docs/models.md §17.5).

        Args:
            last_input: the input of the vision tower's last layer (the output of the one before,
                Hugging Face's ``hidden_states[-2]``), ``[B, 1 + g^2, 768]``.
        Returns:
            ``[B, 512, g, g]``: the last layer with value-only attention, ``post_layernorm`` and
            ``visual_projection`` per patch token (CLS dropped), as a feature map.
        """
        x = value_only_layer(self.vision_model.encoder.layers[-1], last_input)
        x = self.visual_projection(self.vision_model.post_layernorm(x))[:, 1:]
        g = math.isqrt(x.shape[1])
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], g, g)


class Decoder(nn.Module):
    """CLIPSeg's decoder (``rd64``, ``refined``): reduce + FiLM + 3 post-LN layers + transposed convs."""

    def __init__(self, width: int = 768, reduce_dim: int = 64, cond_dim: int = 512, depth: int = 3,
                 heads: int = 4, hidden: int = 2048, conditional_layer: int = 0):
        super().__init__()
        self.conditional_layer = conditional_layer
        self.film_mul = nn.Linear(cond_dim, reduce_dim)
        self.film_add = nn.Linear(cond_dim, reduce_dim)
        self.transposed_convolution = nn.Sequential(
            nn.Conv2d(reduce_dim, reduce_dim, 3, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(reduce_dim, reduce_dim // 2, 4, stride=4), nn.ReLU(),
            nn.ConvTranspose2d(reduce_dim // 2, 1, 4, stride=4))
        self.reduces = nn.ModuleList(nn.Linear(width, reduce_dim) for _ in range(depth))
        self.layers = nn.ModuleList(EncoderLayer(reduce_dim, heads, hidden, act=F.relu, post_norm=True)
                                    for _ in range(depth))

    def forward(self, activations: list[torch.Tensor], cond: torch.Tensor) -> torch.Tensor:
        """``activations``: ViT hidden states in layer order, each ``[B, 1 + g^2, width]``;
        ``cond``: ``[B, cond_dim]`` -> logits ``[B, 16 g, 16 g]``."""
        out = None
        for i, (act, reduce, layer) in enumerate(zip(reversed(activations), self.reduces, self.layers)):
            out = reduce(act) if out is None else reduce(act) + out
            if i == self.conditional_layer:
                out = self.film_mul(cond).unsqueeze(1) * out + self.film_add(cond).unsqueeze(1)
            out = layer(out)
        out = out[:, 1:].transpose(1, 2)
        g = math.isqrt(out.shape[2])
        out = out.reshape(out.shape[0], out.shape[1], g, g)
        return self.transposed_convolution(out)[:, 0]


class ClipSeg(nn.Module):
    """The ``CIDAS/clipseg-rd64-refined`` network: ``clip`` and ``decoder`` (HF key names)."""

    def __init__(self):
        super().__init__()
        self.clip = Clip()
        self.decoder = Decoder()
