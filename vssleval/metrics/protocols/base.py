"""What a metric protocol is, in one place: the :class:`Protocol` base class.

A protocol turns the raw maps of a run into numbers. Everything that differs between protocols is
an attribute or a method of its :class:`Protocol` object, and nothing outside
``vssleval/metrics/protocols/`` asks a protocol's name to decide anything:

============================  =================================================================
``negatives_required``        negative variants every sample must have (the rest may be absent)
``default_negatives``         the negatives a run computes when the user names none
``needs_ogl``                 whether the run must also compute the OGL object-prior maps
``allows_reduced_precision``  whether maps may be computed in bf16 (``--amp bf16``)
``needs_boxes``               whether scoring reads the annotation's boxes (``boxes`` keyword)
``audio_block``               the preset's audio block as the run's front-end reads it (whether
                              negatives keep the preset's quirk keys or use the positive's)
``prepare``                   a run's facts (:class:`RunFacts`) -> the :class:`Setup` it is scored
                              with, or a :class:`ProtocolRefusal`; the one call of the engine and
                              the API, made of the hooks below (each may be overridden):
``check_negatives``           - refuses a run without a negative variant it scores
``thresholds``                - which universal thresholds of the model YAML it scores (or refuses)
``model_settings``            - per-model evaluator settings read from the model YAML
``upsample_plan``             - which upsampling op each map variant gets
``setup``                     - validates thresholds / ops / settings (also :class:`Accumulator`'s)
``check_store``               - refuses a stored run that lacks the maps or boxes it reads
``sample_records``            one batch of maps -> per-sample scalars (the only map work)
``aggregate``                 per-sample scalars of every seed -> the flat result dict
``metrics``                   the metric catalog (:class:`~vssleval.metrics.catalog.Metric` rows):
                              headline, comparison tables, leaderboard columns, intervals, --compare
``extra_files``               files besides ``metrics.json`` (the compat text file, ...)
============================  =================================================================

Adding a protocol is one new module in this package that defines ``PROTOCOL = MyProtocol()``
(the registry, :data:`vssleval.metrics.protocols.PROTOCOLS`, finds it), plus its tests.
Like the rest of :mod:`vssleval.metrics` this module imports nothing else of vssleval but the leaf
modules ``vocabulary`` and ``errors``: a protocol that cannot score a run raises
:class:`ProtocolRefusal`, a :class:`~vssleval.errors.VsslevalError`, so the CLI prints its message
as the one-line error it is, whoever calls the protocol (docs/protocols.md §10).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from .._array import Array
from ..catalog import Metric, StatContext, check_catalog, sections as catalog_sections, statistics
from .. import resampling as rs
from ..resampling import Stat

from ...errors import VsslevalError  # leaf modules: the user-facing error, the variants' spelling
from ...vocabulary import NEGATIVES


class ProtocolRefusal(VsslevalError):
    """A run (model, store, negatives) that a protocol cannot score; the message says why and how
    to fix it. A :class:`~vssleval.errors.VsslevalError`: nobody converts it."""


@dataclass(frozen=True)
class StoreFacts:
    """What :meth:`Protocol.check_store` is told about a heatmap store being scored.

    ``root``: the store folder (for messages); ``written_by``: the protocol of the run that wrote
    it; ``members``: the array names of its shards (``positive``, ``ogl``, ``boxes``, ...).
    """

    root: str
    written_by: str
    members: frozenset[str]


@dataclass(frozen=True)
class RunFacts:
    """What :meth:`Protocol.prepare` is told about a run: the facts its scoring depends on.

    ``model_config``: the whole model YAML; ``preset_map``: the run preset's ``map:`` block
    (``raw``, ``tau``, ``upsample``, ``normalize``); ``negatives``: the negative variants the run
    computes; ``op(variant)``: the preset's upsampling op name for that map variant on the run's
    test set (``positive``, ``silence``, ``noise``, ``offscreen``, ``ogl``); ``store``: the stored
    run being scored, or None before any model runs; ``testset``: the run's dataset layout
    (``vggss``, ``is3``, ``extended``, ...), None where unknown.
    """

    model_name: str
    preset: str
    model_config: Mapping[str, Any]
    preset_map: Mapping[str, Any]
    negatives: tuple[str, ...]
    op: Callable[[str], str]
    store: StoreFacts | None = None
    testset: str | None = None


@dataclass(frozen=True)
class Setup:
    """What one run is scored with: what :meth:`Protocol.prepare` returns (validated by
    :meth:`Protocol.setup`).

    ``thresholds``: universal thresholds (raw map scale), in the protocol's own type;
    ``ops``: the upsampling plan (:meth:`Protocol.upsample_plan`); ``settings``: per-model
    evaluator settings (:meth:`Protocol.model_settings`).
    """

    thresholds: Any
    ops: Any
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SeedRecords:
    """Everything one seed accumulated: per-sample scalars, sample ids, scene groups and class
    labels (or None)."""

    index: int
    records: dict[str, np.ndarray]
    ids: list[str]
    groups: list[str] | None
    labels: list[str] | None = None


class Protocol:
    """One metric protocol. Subclasses set the class attributes and implement
    :meth:`sample_records` and :meth:`aggregate`; every other method has a default."""

    #: the name used on the command line and in ``metrics.json``
    name: ClassVar[str] = ""
    #: one line for ``--help`` (what the protocol is for)
    summary: ClassVar[str] = ""
    #: order in listings and ``--help`` (lower first; ties by name)
    rank: ClassVar[int] = 100
    #: negative variants every sample must have
    negatives_required: ClassVar[tuple[str, ...]] = ()
    #: the negatives a run computes when ``--neg`` / ``neg=`` is not given
    default_negatives: ClassVar[tuple[str, ...]] = NEGATIVES
    #: whether the run computes the OGL object-prior maps (``ogl`` in the store) for this protocol
    needs_ogl: ClassVar[bool] = False
    #: whether :meth:`sample_records` also receives ``boxes``: the annotation's boxes as fractions
    #: of the frame, float64 ``[B, K, 4]`` NaN-padded (the store's ``boxes`` array)
    needs_boxes: ClassVar[bool] = False
    #: whether :meth:`sample_records` also receives ``confidence``: the model's per-sample score of
    #: the positive pair (the store's ``confidence`` member, float ``[B]``), or None where the run
    #: stored none
    reads_confidence: ClassVar[bool] = False
    #: whether a run may compute its maps in reduced precision (``--amp bf16``); False for a
    #: protocol that reproduces fp32 reference numbers
    allows_reduced_precision: ClassVar[bool] = True
    #: the metric catalog, declared once (docs/metrics.md §12): the headline table, the comparison
    #: tables, the leaderboard columns, the bootstrap intervals and ``--compare`` all read it
    metrics: ClassVar[tuple[Metric, ...]] = ()
    #: how non-finite maps are scored, for the ``--allow-nonfinite`` warning
    nonfinite_rule: ClassVar[str] = "scored under the protocol's own rule"
    #: text under the one-run headline table in ``report.md`` (None: nothing)
    report_note: ClassVar[str | None] = None
    #: text under the comparison tables of a multi-run report (None: nothing)
    table_note: ClassVar[str | None] = None
    #: one sentence in the leaderboard's notes on what its columns mean (None: nothing)
    leaderboard_note: ClassVar[str | None] = None
    #: record fields the breakdowns read (:mod:`vssleval.metrics.breakdown`): ``iou`` (per-sample
    #: IoU), ``area`` (ground-truth area, px on the 224 grid), ``pia`` (``{negative: field}``);
    #: None: this protocol's runs get no size / class / split breakdown
    breakdown_fields: ClassVar[Mapping[str, Any] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "headline" in cls.__dict__ or "sections" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: a protocol declares its metrics once, as `metrics = (Metric(...), ...)` "
                            "(vssleval.metrics.catalog); `headline` and `sections` derive from it")
        check_catalog(cls.metrics, cls.name or cls.__name__)

    # -- the catalog ---------------------------------------------------------------------------
    @property
    def headline(self) -> tuple[tuple[str, str], ...]:
        """``(key, label)`` of the one-run headline table, in catalog order."""
        return tuple((m.key, m.label) for m in self.metrics if m.headline)

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """The comparison tables: ``[(title, [(key, short label)])]``, the headline rows by section."""
        return [(title, [(m.key, m.short) for m in rows]) for title, rows in catalog_sections(self.metrics)]

    def leaderboard_columns(self) -> list[Metric]:
        """The catalog rows that are leaderboard columns, in order."""
        return [m for m in self.metrics if m.leaderboard]

    def compared(self) -> list[Metric]:
        """The catalog rows ``--compare`` reports, in order."""
        return [m for m in self.metrics if m.compare]

    def interval_stats(self, records: Mapping[str, np.ndarray], result: Mapping[str, Any]) -> dict[str, tuple[Stat, str]]:
        """``{key: (stat, seed rule)}`` of the metrics that get bootstrap intervals, for ``records``
        (one seed's per-sample fields) and the ``result`` so far."""
        return statistics(self.metrics, StatContext(frozenset(records), (result,)), lambda m: m.interval)

    def add_intervals(self, seeds: Sequence[SeedRecords], out: dict[str, Any], bootstrap: int) -> None:
        """Add to ``out`` (the result so far) the bootstrap block and, for every catalog metric with
        ``interval`` and a statistic for these records, ``<key>_ci95_low`` / ``<key>_ci95_high`` over
        samples (paired across seeds, docs/metrics.md §11); ``bootstrap`` resamples (0: nothing;
        below :data:`vssleval.metrics.resampling.MIN_RESAMPLES`: the block says why there are none)."""
        if not bootstrap:
            return
        out["bootstrap"] = {"resamples": int(bootstrap), "seed": rs.DEFAULT_SEED, "level": rs.LEVEL,
                            "method": rs.METHOD, "min_resamples": rs.MIN_RESAMPLES}
        why = rs.too_few_resamples(bootstrap)
        if why:  # no interval keys: a table prints the value alone and this line (docs/metrics.md §11.1)
            out["bootstrap"]["no_intervals"] = why
            return
        records = [s.records for s in seeds]
        stats = {k: v for k, v in self.interval_stats(records[0], out).items() if k in out}
        with tqdm(total=bootstrap, desc="bootstrap", unit="resample", leave=False) as bar:
            ci = rs.bootstrap_intervals(stats, records, bootstrap, seed=rs.DEFAULT_SEED, progress=bar.update,
                                        estimates={k: out[k] for k in stats})
        for name, (lo, hi) in ci.items():
            out[f"{name}_ci95_low"], out[f"{name}_ci95_high"] = lo, hi

    # -- what a run is computed and scored with ----------------------------------------------
    def audio_block(self, preset_audio: Mapping[str, Any]) -> dict[str, Any]:
        """The preset's ``audio:`` block as this protocol's runs feed it to the audio front-end (a
        copy; ``{}`` for a model without audio). Default: as the preset writes it, per-variant
        quirk keys included, so each negative gets the preprocessing the preset records for it."""
        return copy.deepcopy(dict(preset_audio or {}))

    def prepare(self, run: RunFacts) -> Setup:
        """What ``run`` is scored with, or a :class:`ProtocolRefusal` saying why it cannot be:
        the negatives (:meth:`check_negatives`), the model's thresholds (:meth:`thresholds`) and
        evaluator settings (:meth:`model_settings`), the upsampling plan (:meth:`upsample_plan`),
        validated together (:meth:`setup`), then, for a stored run, the store (:meth:`check_store`).
        Called once before any model runs and once before a store is scored; the checks run in
        this order, so the first refusal a user sees does not depend on the caller."""
        self.check_negatives(run.negatives)
        thresholds = self.thresholds(run.model_config, run.model_name)
        settings = self.model_settings(run.model_config, run.model_name, run.preset_map)
        ops = self.upsample_plan(run.op, run.model_name, run.preset)
        setup = self.setup(thresholds, ops, settings)
        if run.store is not None:
            self.check_store(run.store)
        return setup

    def check_negatives(self, negatives: Sequence[str]) -> None:
        """Refuse, before any model runs, a run without a negative variant this protocol scores."""
        missing = [n for n in self.negatives_required if n not in set(negatives)]
        if missing:
            needs = ("all three negatives" if set(self.negatives_required) == set(NEGATIVES)
                     else ", ".join(self.negatives_required))
            raise ProtocolRefusal(f"--protocol {self.name} scores {needs}; this run lacks {', '.join(missing)} "
                                  "(use --neg all, or `vssleval infer` to store maps only)")

    def check_store(self, store: StoreFacts) -> None:
        """Refuse a stored run that lacks what this protocol needs (the OGL maps, the boxes), read
        from the arrays the store holds."""
        if self.needs_boxes and "boxes" not in store.members:
            raise ProtocolRefusal(
                f"protocol {self.name} reads the annotation's boxes, which the store {store.root} does not "
                f"hold: evaluate the model again to score it with --protocol {self.name}")
        if self.needs_ogl and "ogl" not in store.members:
            raise ProtocolRefusal(
                f"protocol {self.name} blends every map with the OGL object prior, which only a --protocol "
                f"{self.name} run computes; the store {store.root} was written by a {store.written_by} run: "
                f"evaluate the model again with --protocol {self.name}")

    def thresholds(self, model_config: Mapping[str, Any], model_name: str) -> dict[str, Any]:
        """The universal thresholds this protocol scores the model's maps with (the model YAML's
        ``thresholds``, possibly empty); raises :class:`ProtocolRefusal` for a model it cannot score."""
        return dict(model_config.get("thresholds") or {})

    def model_settings(self, model_config: Mapping[str, Any], model_name: str,
                       preset_map: Mapping[str, Any]) -> dict[str, Any]:
        """Per-model evaluator settings (hook; none by default): ``model_config`` is the whole model
        YAML, ``preset_map`` the run preset's ``map:`` block (``raw``, ``tau``, ``upsample``,
        ``normalize``: how the model's own code turns its map into a 224 x 224 one). What this
        returns reaches :meth:`sample_records` and :meth:`aggregate` as ``setup.settings``; a model
        the protocol cannot score raises :class:`ProtocolRefusal`."""
        return {}

    def upsample_plan(self, op: Callable[[str], str], model_name: str, preset: str) -> Any:
        """The upsampling plan from ``op(variant)``, the model preset's op for each variant of
        ``positive``, ``silence``, ``noise``, ``offscreen``, ``object``. Default: the positive's
        op for every map, so all variants are sampled on the same grid."""
        return op("positive")

    def setup(self, thresholds: Any, ops: Any, settings: Mapping[str, Any] | None = None) -> Setup:
        """Validate what a run is scored with (``ValueError`` naming the problem)."""
        th = thresholds.as_dict() if hasattr(thresholds, "as_dict") else dict(thresholds or {})
        return Setup({str(k): float(v) for k, v in th.items()}, ops or "bilinear", dict(settings or {}))

    def check_inputs(self, maps: Mapping[str, Array | None], ogl: Array | None) -> None:
        """Refuse a batch without a map this protocol needs (``ValueError``)."""
        missing = [k for k in self.negatives_required if maps.get(k) is None]
        if self.needs_ogl and ogl is None:
            missing.append("ogl")
        if missing:
            raise ValueError(f"{self.name} needs the maps {missing} in every batch")

    def groups(self, sample_ids: Sequence[str], groups: Sequence[str] | None) -> list[str] | None:
        """The scene group of each sample (iIoU/iAUC); default: as given, or none."""
        return list(groups) if groups is not None else None

    # -- scoring -------------------------------------------------------------------------------
    def sample_records(self, maps: Mapping[str, Array | None], gt: Array, ogl: Array | None,
                       setup: Setup, **inputs: Any) -> dict[str, np.ndarray]:
        """Per-sample scalars of one batch of one seed: ``{field: float64 [B]}``.

        ``maps``: ``{'positive', 'silence', 'noise', 'offscreen'}`` raw maps ``[B, h, w]`` (negatives may
        be None unless required); ``gt``: ``[B, 224, 224]``; ``ogl``: raw object maps or None;
        ``inputs``: ``boxes`` (float64 ``[B, K, 4]``) when the protocol ``needs_boxes``;
        ``extremes`` (``{variant: [B, 2]}``, the raw maps' max and min) when the maps given are not
        the raw maps (a store keeping them resized, docs/models.md §2.8): raw-scale statistics
        must come from them (:func:`vssleval.metrics.stats.extremes` with ``known``).
        ``confidence`` (float64 ``[B]`` or None) when it ``reads_confidence``.
        """
        raise NotImplementedError

    def seeds_sample_records(self, maps: Mapping[str, Sequence[Array] | None], gt: Array, ogl: Array | None,
                             setup: Setup, **inputs: Any) -> list[dict[str, np.ndarray]]:
        """:meth:`sample_records` of one batch for several seeds: ``maps[v]`` holds one raw map per
        seed, or a list of one for a map every seed shares (positive, silence); one record dict
        per seed. ``inputs``' ``extremes`` is in the same per-seed form (``{variant: [[B, 2], ...]}``),
        the other inputs are shared. Default: one :meth:`sample_records` call per seed; a protocol
        may override it to score what the seeds share once (same values)."""
        n_seeds = max(len(m) for m in maps.values() if m is not None)

        def pick(per_seed: Sequence[Any], s: int) -> Any:
            return per_seed[s if len(per_seed) > 1 else 0]

        known = inputs.pop("extremes", None)
        out = []
        for s in range(n_seeds):
            seed_inputs = dict(inputs)
            if known:
                seed_inputs["extremes"] = {v: pick(e, s) for v, e in known.items()}
            out.append(self.sample_records({v: None if m is None else pick(m, s) for v, m in maps.items()},
                                           gt, ogl, setup, **seed_inputs))
        return out

    def aggregate(self, seeds: Sequence[SeedRecords], setup: Setup, bootstrap: int) -> dict[str, Any]:
        """The protocol's keys of ``metrics.json`` from every seed's records (seeds in order)."""
        raise NotImplementedError

    # -- reporting -----------------------------------------------------------------------------
    def results_heading(self, n_seeds: Sequence[int]) -> str:
        """The heading over this protocol's tables in a multi-run report."""
        return f"Results (protocol `{self.name}`)"

    def extra_files(self, seeds: Sequence[SeedRecords], setup: Setup, model_name: str,
                    testset: str) -> dict[str, str | bytes]:
        """Files written beside ``metrics.json``: ``{relative path: text or bytes}`` (default none)."""
        return {}


def pooled(seeds: Sequence[SeedRecords]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Seed-major concatenation of every seed's records, and of their scene groups."""
    rec = {k: np.concatenate([s.records[k] for s in seeds]) for k in seeds[0].records}
    groups = [g for s in seeds for g in (s.groups or [])]
    return rec, groups
