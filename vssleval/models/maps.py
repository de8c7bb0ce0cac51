"""Map post-processing named by the preset's ``map:`` block.

A model computes a similarity map in its own units (a cosine in [-1, 1] for every zoo model); the
preset decides what the *raw* map is (the map the official code returns, before interpolation)
and how an evaluation turns it into a 224x224 map. Only the raw rule runs here; the upsampling
and normalisation names are declared for the metric protocols, which implement them.

``map:`` block keys:

``raw``
    ``cosine``        the cosine itself, [-1, 1] (LVS, SSL-Align, SSL-TIE, SACL).
    ``identity``      the model's map unchanged (baselines, OGL prior).
    ``cos_over_tau``  cos / tau, [-1/tau, 1/tau] (EZ-VSL, SLAVC, FNAC own repositories).
    ``unit_range``    ((cos / tau) * tau + 1) / 2, [0, 1] (vssl_eval's EZ-family output; dividing
                      then multiplying by tau is what that code does, so it is kept literally).
``tau``
    temperature for the two rules above (0.03 for every published model).
``upsample``
    op name per map variant (see ``VARIANTS``); a value may be a dict keyed by dataset name with a
    ``default`` entry, for the pipelines that upsample differently per test set.
``normalize``
    what follows the upsampling, per image: ``none``, ``minmax`` ((x-min)/(max-min), unchanged
    when max == min), or ``fixed_range`` ((x + 1/tau) / (2/tau), SLAVC's own test), or ``sigmoid`` (1 / (1 + e^-x): ACL-SSL,
    whose raw map is the heatmap's logit, docs/models.md §17.5). A record of
    the model's own evaluation code: the built-in protocols do not apply it (their median and
    adaptive thresholds are ranks, unchanged by a per-image monotone map, and their universal
    thresholds are on the raw scale); a protocol that scores as the model's code does receives
    the whole ``map:`` block through ``Protocol.model_settings`` (docs/protocols.md §10).
``store``
    optional, what the heatmap store keeps instead of the raw map (docs/models.md §2.8):
    ``{size: 224, negatives: float12}`` stores every map resized to ``size`` x ``size`` with the
    ``positive`` op (after the flat-map rule), the positive in float32 and the negative maps
    (silence, noise, offscreen) in ``negatives`` (``float32`` or ``float12``,
    :mod:`vssleval.engine.store.codec`). The engine applies it (:mod:`vssleval.engine.store.reduce`).

Facts behind each rule: docs/models.md §2.4-§2.8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from vssleval.errors import VsslevalError
from vssleval.vocabulary import AUDIO_VARIANTS, MAP_VARIANTS

if TYPE_CHECKING:  # the rule is read by scoring and reports, which need no torch (docs/performance.md §10)
    import torch

#: map variants an evaluation produces per sample (``ogl``: the OGL object-prior map)
VARIANTS = MAP_VARIANTS

#: upsampling ops (low-res -> 224x224) that presets may name; the names are those of
#: ``vssleval.metrics.upsample`` (which implements them) plus ``none``.
UPSAMPLE_OPS = {
    "bilinear_ac": "torch F.interpolate(mode='bilinear', align_corners=True)",
    "bilinear": "torch F.interpolate(mode='bilinear', align_corners=False)",
    "cv2_linear": "cv2.resize(INTER_LINEAR): half-pixel bilinear with border replicate "
                  "(equals 'bilinear' within 5e-7 for these integer upscales)",
    "bicubic_ac": "torch F.interpolate(mode='bicubic', align_corners=True)",
    "bicubic": "torch F.interpolate(mode='bicubic', align_corners=False)",
    "none": "the raw map is already 224x224",
}

#: op names of the YAML that ``vssleval.metrics.upsample`` spells differently: ``none`` marks maps
#: already at 224 x 224, for which bilinear (align_corners=False) resampling is the identity
METRIC_OP_ALIASES = {"none": "bilinear"}

#: per-image normalisations after upsampling.
NORMALIZE_OPS = ("none", "minmax", "fixed_range", "sigmoid")

RAW_RULES = ("cosine", "identity", "cos_over_tau", "unit_range")

#: what ``map.store.negatives`` may name: keep the negative maps as computed, or in the 12-bit code
STORE_CODECS = ("float32", "float12")
#: the one ``map.store.size``: the evaluation grid every protocol scores on, so that a stored map
#: is final (resizing it again would resample twice)
STORE_SIZE = 224
#: the map variants a store resizes (the OGL prior is not the model's map and is kept as computed)
STORED_VARIANTS = AUDIO_VARIANTS


@dataclass(frozen=True)
class StoreRule:
    """The parsed ``map.store`` entry: maps stored at ``size`` x ``size``, negatives in ``negatives``."""

    size: int = STORE_SIZE
    negatives: str = "float32"

    @classmethod
    def from_config(cls, entry: Any) -> "StoreRule":
        if not isinstance(entry, Mapping):
            raise VsslevalError(f"map.store must be a mapping such as {{size: {STORE_SIZE}, negatives: float12}}, "
                                f"got {entry!r:.60}")
        unknown = set(entry) - {"size", "negatives"}
        if unknown:
            raise VsslevalError(f"unknown keys in map.store: {sorted(unknown)} (known: size, negatives)")
        size = entry.get("size")
        if type(size) is not int or size != STORE_SIZE:
            raise VsslevalError(f"map.store.size must be {STORE_SIZE} (the grid every protocol scores on, where a "
                                f"stored map is final), got {size!r:.60}")
        negatives = entry.get("negatives", "float32")
        if negatives not in STORE_CODECS:
            raise VsslevalError(f"map.store.negatives must be one of {STORE_CODECS}, got {negatives!r:.60}")
        return cls(size=STORE_SIZE, negatives=negatives)

    def record(self) -> dict[str, Any]:
        """What the run's configuration records (``store_maps``)."""
        return {"size": self.size, "negatives": self.negatives}


@dataclass(frozen=True)
class MapRule:
    """The parsed ``map:`` block of one preset. ``raw_from_cosine`` is the only compute step."""

    raw: str = "cosine"
    tau: float = 0.03
    upsample: dict[str, Any] = field(default_factory=dict)
    normalize: str = "none"
    store: StoreRule | None = None

    @classmethod
    def from_config(cls, block: dict[str, Any] | None) -> "MapRule":
        if block is not None and not isinstance(block, Mapping):
            raise VsslevalError(f"a preset map block must be a mapping of raw, tau, upsample, normalize; "
                                f"got {block!r:.60}")
        block = dict(block or {})
        unknown = set(block) - {"raw", "tau", "upsample", "normalize", "store"}
        if unknown:
            raise VsslevalError(f"unknown keys in a preset map block: {sorted(unknown)}")
        tau = block.get("tau", 0.03)
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not 0 < tau < float("inf"):
            raise VsslevalError(f"map.tau must be a positive number (the contrastive temperature), got {tau!r:.60}")
        if block.get("upsample") is not None and not isinstance(block["upsample"], Mapping):
            raise VsslevalError(f"map.upsample must map variants to ops ({{positive: bilinear, ...}}), "
                                f"got {block['upsample']!r:.60}")
        for key in ("raw", "normalize"):
            if key in block and not isinstance(block[key], str):
                raise VsslevalError(f"map.{key} must be a name, got {block[key]!r:.60}")
        store = StoreRule.from_config(block["store"]) if block.get("store") is not None else None
        rule = cls(raw=block.get("raw", "cosine"), tau=float(tau),
                   upsample=dict(block.get("upsample") or {}), normalize=block.get("normalize", "none"),
                   store=store)
        if rule.raw not in RAW_RULES:
            raise VsslevalError(f"map.raw {rule.raw!r} is not one of {RAW_RULES}")
        if rule.normalize not in NORMALIZE_OPS:
            raise VsslevalError(f"map.normalize {rule.normalize!r} is not one of {NORMALIZE_OPS}")
        for variant, op in rule.upsample.items():
            if variant not in VARIANTS:
                hint = " (the OGL prior's key is 'ogl')" if variant == "object" else ""
                raise VsslevalError(f"map.upsample names unknown variant {variant!r}{hint}; variants: {VARIANTS}")
            for name in (op.values() if isinstance(op, dict) else [op]):
                if not isinstance(name, str) or name not in UPSAMPLE_OPS:
                    raise VsslevalError(f"map.upsample.{variant}: unknown op {name!r}; known: {sorted(UPSAMPLE_OPS)}")
        if store is not None:
            rule._check_one_stored_op()
        return rule

    def _check_one_stored_op(self) -> None:
        """A store that keeps resized maps resizes them all with the ``positive`` op, so every stored
        variant must name that op (else a protocol applying the variant's own op would silently get
        the positive's)."""
        positive = self.upsample.get("positive", "bilinear_ac")
        for variant in STORED_VARIANTS:
            op = self.upsample.get(variant, positive)
            if op != positive:
                raise VsslevalError(f"map.store resizes every map with the positive's op ({positive!r}), but "
                                    f"map.upsample.{variant} is {op!r}; name the same op for {', '.join(STORED_VARIANTS)} "
                                    "or drop map.store (docs/models.md §2.8)")

    def raw_from_cosine(self, cos: torch.Tensor) -> torch.Tensor:
        """Cosine map ``[B, h, w]`` -> the preset's raw map ``[B, h, w]`` (same dtype)."""
        if self.raw in ("cosine", "identity"):
            return cos
        scaled = cos / self.tau
        if self.raw == "cos_over_tau":
            return scaled
        return (scaled * self.tau + 1) / 2

    def upsample_op(self, variant: str, dataset: str | None = None) -> str:
        """Upsampling op name for ``variant`` (one of ``VARIANTS``) on ``dataset``.

        A variant the block does not name falls back to the ``positive`` op.
        """
        if variant not in VARIANTS:
            raise VsslevalError(f"unknown map variant {variant!r}; variants: {VARIANTS}")
        op = self.upsample.get(variant, self.upsample.get("positive", "bilinear_ac"))
        if isinstance(op, dict):
            op = op.get(dataset, op.get("default")) if dataset else op.get("default")
            if op is None:
                raise VsslevalError(f"map.upsample.{variant} has no entry for dataset {dataset!r} and no default")
        return op

    def metric_op(self, variant: str, dataset: str | None = None) -> str:
        """:meth:`upsample_op` as :mod:`vssleval.metrics.upsample` names it (:data:`METRIC_OP_ALIASES`)."""
        name = self.upsample_op(variant, dataset)
        return METRIC_OP_ALIASES.get(name, name)
