"""BEATs (iter3+, AudioSet fine-tuned) encoder and ACL-SSL's FGA audio embedder, in plain torch.

Parameter names follow the released files (``BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt``
``['model']`` and ``Param_best.pth`` ``['audio_proj']``) so they load strictly. The BEATs
classifier head (``predictor.*``) is dropped by the loader, as ACL-SSL drops it after loading.
Facts: docs/models.md §17.3-§17.4.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RelativeAttention(nn.Module):
    """BEATs' self-attention: bucketed relative-position bias with GRU-style gating per query.

    The attention logits are computed as BEATs does (queries scaled by ``1/(32 sqrt(d))``, the row
    maximum subtracted, then multiplied back by 32) so that the rounding follows the reference.
    """

    alpha = 32.0

    def __init__(self, dim: int, heads: int, num_buckets: int, max_distance: int, has_bias: bool):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scaling = self.head_dim ** -0.5
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.k_proj, self.v_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.q_proj, self.out_proj = nn.Linear(dim, dim), nn.Linear(dim, dim)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(num_buckets, heads)
        self.grep_linear = nn.Linear(self.head_dim, 8)
        self.grep_a = nn.Parameter(torch.ones(1, heads, 1, 1))

    def buckets(self, t: int, device) -> torch.Tensor:
        """Bidirectional log-spaced bucket of every (query, key) offset, ``[t, t]`` long."""
        rel = torch.arange(t, device=device)[None, :] - torch.arange(t, device=device)[:, None]
        half = self.num_buckets // 2
        out = (rel > 0).long() * half
        rel = rel.abs()
        exact = half // 2
        large = exact + (torch.log(rel.float() / exact) / math.log(self.max_distance / exact)
                         * (half - exact)).long()
        large = torch.clamp_max(large, half - 1)
        return out + torch.where(rel < exact, rel, large)

    def position_bias(self, t: int, device) -> torch.Tensor:
        """``[heads, t, t]`` bias from the (shared) bucket embedding."""
        return self.relative_attention_bias(self.buckets(t, device)).permute(2, 0, 1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, T, D]``, ``bias`` ``[heads, T, T]`` (layer 0's, ungated) -> ``[B, T, D]``."""
        b, t, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, self.head_dim).transpose(1, 2)

        q = split(self.q_proj(x) * self.scaling * (1 / self.alpha))
        k, v = split(self.k_proj(x)), split(self.v_proj(x))
        w = q @ k.transpose(-1, -2)
        w = (w - w.max(dim=-1, keepdim=True)[0]) * self.alpha
        query = q * self.alpha / self.scaling  # the unscaled query, for the gate
        gates = torch.sigmoid(self.grep_linear(query).view(b, self.heads, t, 2, 4).sum(-1))
        gate_a, gate_b = gates.chunk(2, dim=-1)
        gate = gate_a * (gate_b * self.grep_a - 1.0) + 2.0  # [B, H, T, 1]
        w = w + gate * bias.unsqueeze(0)
        out = torch.softmax(w, dim=-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


class BeatsLayer(nn.Module):
    """Post-LN layer with deep-norm residual scaling ``alpha = (2 L)^(1/4)``."""

    def __init__(self, dim: int, heads: int, hidden: int, layers: int, has_bias: bool,
                 num_buckets: int, max_distance: int):
        super().__init__()
        self.self_attn = RelativeAttention(dim, heads, num_buckets, max_distance, has_bias)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.final_layer_norm = nn.LayerNorm(dim)
        self.residual_scale = math.pow(2 * layers, 1 / 4)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.self_attn_layer_norm(x * self.residual_scale + self.self_attn(x, bias))
        h = self.fc2(F.gelu(self.fc1(x)))
        return self.final_layer_norm(x * self.residual_scale + h)


class PosConv(nn.Module):
    """Grouped convolutional position encoding with weight norm over the kernel axis (keys
    ``0.weight_g`` ``[1, 1, K]``, ``0.weight_v``, ``0.bias``); even kernel: the last step dropped."""

    def __init__(self, dim: int, kernel: int, groups: int):
        super().__init__()
        self.kernel, self.groups = kernel, groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        # loaded; a nonzero norm when not. nn.init (not ``torch.randn(...) * 0.02``, the same numbers):
        # a build for a checkpoint or for its key layout skips it (models/deferred_init.py)
        self.weight_v = nn.Parameter(nn.init.normal_(torch.empty(dim, dim // groups, kernel), std=0.02))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D, T]`` -> ``[B, D, T]``."""
        norm = self.weight_v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
        weight = self.weight_g * self.weight_v / norm
        y = F.conv1d(x, weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        if self.kernel % 2 == 0:
            y = y[:, :, :-1]
        return F.gelu(y)


class BeatsEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, hidden: int, conv_pos: int, conv_groups: int,
                 num_buckets: int, max_distance: int):
        super().__init__()
        self.pos_conv = nn.ModuleList([PosConv(dim, conv_pos, conv_groups)])
        self.layers = nn.ModuleList(
            BeatsLayer(dim, heads, hidden, layers, i == 0, num_buckets, max_distance) for i in range(layers))
        for layer in self.layers[1:]:  # one bucket table shared by every layer, as in BEATs
            layer.self_attn.relative_attention_bias = self.layers[0].self_attn.relative_attention_bias
        self.layer_norm = nn.LayerNorm(dim)


class Beats(nn.Module):
    """BEATs at test time: fbank ``[B, frames, 128]`` -> chosen layer outputs.

    Args:
        patch: patch size of the spectrogram patch embedding (16).
        embed_dim: patch embedding width (512).
        dim / layers / heads / hidden: transformer encoder (768 / 12 / 12 / 3072).
    """

    def __init__(self, patch: int = 16, embed_dim: int = 512, dim: int = 768, layers: int = 12,
                 heads: int = 12, hidden: int = 3072, conv_pos: int = 128, conv_groups: int = 16,
                 num_buckets: int = 320, max_distance: int = 800):
        super().__init__()
        self.patch_embedding = nn.Conv2d(1, embed_dim, patch, patch, bias=False)
        self.layer_norm = nn.LayerNorm(embed_dim)
        self.post_extract_proj = nn.Linear(embed_dim, dim)
        self.encoder = BeatsEncoder(dim, layers, heads, hidden, conv_pos, conv_groups, num_buckets, max_distance)

    def forward(self, fbank: torch.Tensor, wanted: tuple[int, ...]) -> torch.Tensor:
        """Normalised fbank ``[B, frames, mels]`` -> the outputs of the 1-based layers ``wanted``
        concatenated on channels, ``[B, tokens, dim * len(wanted)]`` (tokens time-major)."""
        x = self.patch_embedding(fbank.unsqueeze(1))
        x = x.flatten(2).transpose(1, 2)
        x = self.post_extract_proj(self.layer_norm(x))
        enc = self.encoder
        x = x + enc.pos_conv[0](x.transpose(1, 2)).transpose(1, 2)
        x = enc.layer_norm(x)
        bias = enc.layers[0].self_attn.position_bias(x.shape[1], x.device)
        out = []
        for k, layer in enumerate(enc.layers[:max(wanted)], start=1):
            x = layer(x, bias)
            if k in wanted:
                out.append(x)
        return torch.cat(out, dim=-1)


class Unary(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.embed = nn.Conv1d(dim, dim, 1)
        self.feature_reduce = nn.Conv1d(dim, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, T]``."""
        return self.feature_reduce(F.relu(self.embed(x)))[:, 0]


class SelfPotential(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.embed_X = nn.Conv1d(dim, dim, 1)
        self.embed_Y = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, T]``: mean over keys of the cosine between the two embeddings."""
        a = F.normalize(self.embed_X(x), dim=1)
        b = F.normalize(self.embed_Y(x), dim=1)
        return (a.transpose(1, 2) @ b).mean(dim=2)


class Fga(nn.Module):
    """Single-utility factor-graph attention (unary + self potentials, no prior) -> ``[B, C]``."""

    def __init__(self, dim: int):
        super().__init__()
        self.un_models = nn.ModuleList([Unary(dim)])
        self.pp_models = nn.ModuleDict({"0": SelfPotential(dim)})
        self.reduce_potentials = nn.ModuleList([nn.Conv1d(2, 1, 1, bias=False)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, C]`` tokens -> their attention-weighted sum ``[B, C]``."""
        xt = x.transpose(1, 2)
        potentials = torch.stack([self.un_models[0](xt), self.pp_models["0"](xt)], dim=1)
        weights = torch.softmax(self.reduce_potentials[0](potentials)[:, 0], dim=1)
        return (xt @ weights.unsqueeze(2))[:, :, 0]


class FgaEmbedder(nn.Module):
    """ACL-SSL's ``audio_proj``: Linear 2304 -> GELU -> Linear 512 -> FGA pooling -> ``[B, 512]``."""

    def __init__(self, input_size: int = 768 * 3, output_size: int = 512):
        super().__init__()
        self.fc1 = nn.Linear(input_size, input_size)
        self.fc2 = nn.Linear(input_size, output_size)
        self.fga = Fga(output_size)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.fga(self.fc2(F.gelu(self.fc1(feats))))


class ImageMasker(nn.Module):
    """The two scalars ``w``, ``b`` of ACL-SSL's ``masker_i``; the test heatmap is
    ``sigmoid(x + b / w)`` (docs/models.md §17.5)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(10.0))
        self.b = nn.Parameter(torch.tensor(14.0))
