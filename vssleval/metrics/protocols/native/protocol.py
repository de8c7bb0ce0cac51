"""Protocol ``native``: each model scored exactly as its own repository's evaluator scores it.

The model YAML names the evaluator (``native_evaluator:``, one of :data:`~.EVALUATORS`); this
protocol feeds it the raw positive maps of the run and the annotation's boxes as the annotation
wrote them, and reports the evaluator's dataset numbers under its own names beside the headline
keys (docs/protocols.md §11):

* ``ciou`` = the evaluator's success rate at IoU 0.5, ``auc`` = its 21-point AUC, and ``ap`` /
  ``max_f1`` where the evaluator computes them (SLAVC); per sample ``ciou`` = the IoU it thresholds.
* Only the positive audio is scored (no repository scores negatives), with no object prior and no
  universal thresholds. The positive maps do not depend on the seed, so the first seed is scored.
* The evaluator upsamples and normalises the raw map itself, so the run must hold the maps of the
  model's own pipeline: the run's preset ``map`` block must be the YAML's ``native`` one, and the
  op that block names for the test set must be the evaluator's (otherwise the protocol refuses,
  naming the difference) - ``--preset native --protocol native`` is what the model's paper reported.
* Ground truth: the repository's own box -> pixel rule on the boxes as fractions of the frame, a
  binary union of boxes. Flickr-SoundNet's consensus maps are not a box union and are refused.
* A repository that scores some test-set layouts with other code names that evaluator per layout
  (the YAML's ``native_evaluator_by_layout``, e.g. ACL-SSL's ``extended: aclssl_extended``); an
  evaluator that reads the model's per-sample confidence refuses a store without one.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from ..._array import to_numpy
from ...stats import extremes
from ... import resampling as rs
from ...catalog import Metric, StatContext
from ..base import Protocol, ProtocolRefusal, RunFacts, SeedRecords, Setup
from .registry import EVALUATORS
from ._base import HEADLINE, NativeEvaluator
from ._common import unpad_boxes
from ....vocabulary import PROTOCOL_SUMMARIES


def _evaluator_statistic(key: str):
    """Builder of ``key``'s statistic: the one of the evaluator that scored the runs
    (``native_evaluator`` in their ``metrics.json``; :attr:`NativeEvaluator.statistics`). Runs
    scored under different rules for ``key`` have no common statistic (a paired difference needs one)."""
    def build(context: StatContext) -> rs.Stat | str:
        names = [str(r.get("native_evaluator")) for r in context.results]
        unknown = sorted({n for n in names if n not in EVALUATORS})
        if not names or unknown:
            return f"no known native_evaluator in metrics.json ({', '.join(unknown) or 'none'})"
        stats = {id(EVALUATORS[n].statistics.get(key)): EVALUATORS[n].statistics.get(key) for n in names}
        if len(stats) > 1:
            return f"the runs are scored by evaluators {' and '.join(sorted(set(names)))}, whose {key} rules differ"
        stat = next(iter(stats.values()))
        if stat is None:
            return f"evaluator {names[0]} computes no {key}"
        missing = sorted({"ciou", "conf", "n_boxes"} - context.fields) if key in ("ap", "max_f1") else (
            [] if "ciou" in context.fields else ["ciou"])
        return f"the per-sample records lack {', '.join(missing)}" if missing else stat
    return build


class NativeProtocol(Protocol):
    """The model repository's own evaluator (docs/protocols.md §11)."""

    name = "native"
    summary = PROTOCOL_SUMMARIES[name]
    rank = 2
    needs_boxes = True
    reads_confidence = True  # the evaluators with needs_confidence (ACL-SSL's extended sets)
    default_negatives = ()  # no repository scores negative audio: computing it would be wasted
    allows_reduced_precision = False  # reproduces each repository's fp32 evaluation
    nonfinite_rule = "scored as the model's own evaluator scores them (NaN propagates where its code lets it)"
    metrics = tuple(Metric(key, label, label, True, "Headline (native)", _evaluator_statistic(key), rs.FIRST_SEED,
                           leaderboard=True, compare=True)
                    for key, label in (("ciou", "cIoU@0.5"), ("auc", "AUC"), ("ap", "AP"), ("max_f1", "max-F1")))
    report_note = ("Each model is scored by its own repository's evaluator (docs/protocols.md §11): its "
                   "upsampling, normalisation, threshold rule and box conversion. `ap` / `max_f1` only "
                   "where that evaluator computes them.\n")
    leaderboard_note = "Protocol native: every row is scored by its own model's repository evaluator."
    table_note = "Protocol `native`: every row uses its own model's evaluator, so rows follow different rules.\n"

    def thresholds(self, model_config: Mapping[str, Any], model_name: str) -> dict[str, Any]:
        return {}  # no evaluator uses universal thresholds

    def model_settings(self, model_config: Mapping[str, Any], model_name: str,
                       preset_map: Mapping[str, Any]) -> dict[str, Any]:
        """``{evaluator, map}``: the YAML's ``native_evaluator`` and the run preset's map block,
        refused unless that block is the YAML's ``native`` one (the maps the evaluator expects)."""
        name = model_config.get("native_evaluator")
        if not name:
            raise ProtocolRefusal(f"--protocol native scores a model with its own repository's evaluator; "
                                  f"{model_name}'s YAML names none (add `native_evaluator: <name>`, one of "
                                  f"{', '.join(EVALUATORS)}; docs/protocols.md §11)")
        if name not in EVALUATORS:
            raise ProtocolRefusal(f"{model_name}'s YAML names native_evaluator {name!r}, which is not one of "
                                  f"{', '.join(EVALUATORS)}")
        presets = model_config.get("presets") or {}
        if "native" not in presets:
            # suggest only what can work: --preset native would be refused for want of that preset
            raise ProtocolRefusal(f"--protocol native scores the maps of {model_name}'s own pipeline, which its "
                                  f"YAML describes as a preset named `native`; it has none (presets: "
                                  f"{', '.join(map(str, presets)) or 'none'}). Add a `native` preset (the audio, "
                                  f"image and map blocks of the model's own test code; docs/models.md §3-§4), or "
                                  f"evaluate it under --protocol vssleval")
        native_map = dict((presets.get("native") or {}).get("map") or {})
        if dict(preset_map) != native_map:
            differ = sorted(k for k in set(native_map) | set(preset_map) if native_map.get(k) != preset_map.get(k))
            raise ProtocolRefusal(f"--protocol native scores the maps of {model_name}'s own pipeline (its YAML's "
                                  f"`native` preset); this run's preset differs in map.{', map.'.join(differ)}: "
                                  f"evaluate with --preset native")
        ev = EVALUATORS[name]
        if ev.normalize and native_map.get("normalize") != ev.normalize:
            raise ProtocolRefusal(f"{model_name}'s native preset normalises its maps with map.normalize "
                                  f"{native_map.get('normalize')!r}, but evaluator {ev.name} ({ev.repository}) "
                                  f"applies {ev.normalize!r}: the YAML's record of the model's own pipeline "
                                  f"and the evaluator disagree (docs/protocols.md §11)")
        return {"evaluator": name, "map": dict(preset_map)}

    def prepare(self, run: RunFacts) -> Setup:
        """The common checks with the evaluator the YAML names for the run's test-set layout
        (:func:`for_layout`), then the test set: an evaluator whose repository scores only some
        layouts with this code (``NativeEvaluator.layouts``) refuses the others; then, for a stored
        run, the confidence an evaluator reads."""
        setup = super().prepare(for_layout(run))
        ev = self.evaluator(setup)
        if ev.layouts and run.testset is not None and run.testset not in ev.layouts:
            raise ProtocolRefusal(f"evaluator {ev.name} ({ev.repository}) is its repository's code for "
                                  f"{', '.join(ev.layouts)}; it scores {run.testset} test sets with other code, "
                                  f"which vssleval does not reproduce (docs/protocols.md §11.4)")
        if ev.needs_confidence and run.store is not None and "confidence" not in run.store.members:
            raise ProtocolRefusal(f"evaluator {ev.name} ({ev.repository}) ranks the samples by the model's "
                                  f"confidence, which the store {run.store.root} does not hold (its model has no "
                                  f"`confidence` hook, or an older vssleval wrote it): evaluate the model again "
                                  f"(docs/protocols.md §11.4)")
        return setup

    def setup(self, thresholds: Any, ops: Any, settings: Mapping[str, Any] | None = None) -> Setup:
        """Check that the evaluator upsamples as the preset says for this test set (``ops``: the
        positive's op), so the YAML's record and the evaluator's code cannot drift apart."""
        settings = dict(settings or {})
        if settings.get("evaluator") not in EVALUATORS:
            raise ProtocolRefusal("protocol native needs settings {'evaluator': <name>} (from the model YAML's "
                                  "native_evaluator)")
        ev = EVALUATORS[settings["evaluator"]]
        if ops is not None and ev.upsample and ops != ev.upsample:
            raise ProtocolRefusal(f"the native preset upsamples this test set's maps with {ops}, but evaluator "
                                  f"{ev.name} ({ev.repository}) upsamples with {ev.upsample}: its repository scores "
                                  f"this test set with other code, which vssleval does not reproduce")
        return Setup({}, ops, settings)

    @staticmethod
    def evaluator(setup: Setup) -> NativeEvaluator:
        return EVALUATORS[setup.settings["evaluator"]]

    def sample_records(self, maps, gt, ogl, setup: Setup, **inputs: Any) -> dict[str, np.ndarray]:
        """The evaluator's numeric per-sample columns (``ciou``, counts, thresholds, ...) and the raw
        positive maxima / minima (``max_positive``, ``min_positive``) the report's plots read."""
        gt = np.asarray(to_numpy(gt))
        if np.any((gt != 0) & (gt != 1)):
            raise ProtocolRefusal("--protocol native scores binary box unions (VGG-SS, IS3); this dataset's "
                                  "ground truth is a consensus map (Flickr-SoundNet), which the repositories' "
                                  "evaluators read with other code")
        raw = np.asarray(to_numpy(maps["positive"]), dtype=np.float32)
        cols = self.evaluator(setup).samples(raw, unpad_boxes_of(inputs["boxes"]), confidence=inputs.get("confidence"))
        out = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items() if np.asarray(v).dtype.kind in "fiub"}
        out["max_positive"], out["min_positive"] = extremes(raw, (inputs.get("extremes") or {}).get("positive"))
        return out

    def aggregate(self, seeds: Sequence[SeedRecords], setup: Setup, bootstrap: int) -> dict[str, Any]:
        """The evaluator's dataset numbers on the first seed (positive maps do not depend on it)."""
        first = seeds[0]
        ev = self.evaluator(setup)
        cols: dict[str, Any] = dict(first.records)
        if ev.labels is not None:
            cols.update(ev.labels([ev.sample_name(i) for i in first.ids]))
        numbers = ev.aggregate(cols)
        out = {k: numbers[k] for k in HEADLINE if k in numbers}
        out.update({"native_evaluator": ev.name, "native_repository": ev.repository, "native_rule": ev.rule})
        out.update({k: v for k, v in numbers.items()
                    if k not in out and k != "n_samples" and not isinstance(v, dict)})
        self.add_intervals(seeds[:1], out, bootstrap)
        return out


def for_layout(run: RunFacts) -> RunFacts:
    """``run`` with the YAML's ``native_evaluator`` replaced by the one its
    ``native_evaluator_by_layout`` names for the run's test-set layout, if any (a name that is not
    an evaluator is refused, naming the key)."""
    by_layout = run.model_config.get("native_evaluator_by_layout") or {}
    if run.testset not in by_layout:
        return run
    name = by_layout[run.testset]
    if name not in EVALUATORS:
        raise ProtocolRefusal(f"{run.model_name}'s YAML names native_evaluator_by_layout {run.testset}: {name!r}, "
                              f"which is not one of {', '.join(EVALUATORS)}")
    return dataclasses.replace(run, model_config={**run.model_config, "native_evaluator": name})


def reads_model_confidence(model_config: dict, testset: str | None) -> bool:
    """Whether the native evaluator of this model on this test-set layout reads the model's own
    confidence (``needs_confidence``: ACL-SSL's extended sets). The engine calls the model's
    ``confidence`` hook only then: for ACL-SSL it costs a ViT layer, a value-only layer and a second
    decoder pass per image (docs/models.md §17), which no other scoring reads."""
    by_layout = model_config.get("native_evaluator_by_layout") or {}
    ev = EVALUATORS.get(by_layout.get(testset, model_config.get("native_evaluator")))
    return bool(ev is not None and ev.needs_confidence)


def unpad_boxes_of(boxes: np.ndarray) -> list[np.ndarray]:
    """The store's NaN-padded ``[B, K, 4]`` boxes -> one ``[K_i, 4]`` list per sample."""
    arr = np.asarray(boxes, dtype=np.float64)
    return unpad_boxes(arr, (~np.isnan(arr).all(axis=2)).sum(axis=1))


PROTOCOL = NativeProtocol()
