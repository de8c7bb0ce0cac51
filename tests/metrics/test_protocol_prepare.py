"""``Protocol.prepare``: a run's facts in, the :class:`Setup` it is scored with out, or a refusal
that is the user-facing ``VsslevalError`` (docs/protocols.md §10); and ``Protocol.audio_block``,
the one place that decides which preprocessing the negatives get (docs/protocols.md §2.5).
Pure metrics: the facts are literals, no model, store or engine."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from shared import ROOT
from vssleval.errors import VsslevalError
from vssleval.metrics.protocols import PROTOCOLS, ProtocolRefusal, RunFacts, Setup, StoreFacts
from vssleval.metrics.thresholds import UniversalThresholds
from vssleval.vocabulary import NEGATIVES

NATIVE_MAP = {"raw": "cos", "upsample": {"positive": "cv2_linear"}, "normalize": "minmax"}
MODEL = {"thresholds": {"max": 0.9, "max10": 0.8, "maxq3": 0.7}, "native_evaluator": "lvs",
         "presets": {"native": {"map": NATIVE_MAP}}}
#: the per-variant ops of a juanola2025 preset: torch on the positive and the prior, OpenCV on the negatives
OPS = {"positive": "bilinear_ac", "ogl": "bilinear_ac", "silence": "cv2_linear", "noise": "cv2_linear",
       "offscreen": "cv2_linear"}


def facts(**kw) -> RunFacts:
    base = RunFacts(model_name="toy", preset="native", model_config=MODEL, preset_map=dict(NATIVE_MAP),
                    negatives=NEGATIVES, op=OPS.__getitem__)
    return replace(base, **kw)


def store(*members: str, written_by: str = "vssleval") -> StoreFacts:
    return StoreFacts(root="/runs/a/store", written_by=written_by, members=frozenset(("positive", "gt", *members)))


def test_prepare_gives_each_protocol_its_setup():
    clean = PROTOCOLS["vssleval"].prepare(facts())
    assert clean == Setup({"max": 0.9, "max10": 0.8, "maxq3": 0.7}, "bilinear_ac", {})  # one op: the positive's
    compat = PROTOCOLS["juanola2025"].prepare(facts())
    assert isinstance(compat.thresholds, UniversalThresholds)
    assert compat.ops == {"positive": "bilinear_ac", "ogl": "bilinear_ac", "neg": "cv2_linear"}
    native = PROTOCOLS["native"].prepare(facts(op=lambda v: "cv2_linear", negatives=()))
    assert native == Setup({}, "cv2_linear", {"evaluator": "lvs", "map": NATIVE_MAP})


def test_a_refusal_is_a_vsslevalerror_with_the_message_unchanged():
    assert issubclass(ProtocolRefusal, VsslevalError)
    with pytest.raises(VsslevalError) as err:
        PROTOCOLS["juanola2025"].prepare(facts(negatives=("silence",)))
    assert str(err.value) == ("--protocol juanola2025 scores all three negatives; this run lacks noise, offscreen "
                              "(use --neg all, or `vssleval infer` to store maps only)")


def test_checks_run_in_one_order_whoever_calls():
    """Negatives, then thresholds, then evaluator settings, then the upsampling plan, then the store."""
    compat = PROTOCOLS["juanola2025"]
    no_thresholds = {k: v for k, v in MODEL.items() if k != "thresholds"}
    with pytest.raises(ProtocolRefusal, match="lacks"):
        compat.prepare(facts(negatives=(), model_config=no_thresholds))
    with pytest.raises(ProtocolRefusal, match="universal thresholds"):
        compat.prepare(facts(model_config=no_thresholds, op=lambda v: v))  # the ops would be refused too
    with pytest.raises(ProtocolRefusal, match="different ops"):
        compat.prepare(facts(op={**OPS, "noise": "bilinear"}.__getitem__, store=store()))
    native = PROTOCOLS["native"]
    with pytest.raises(ProtocolRefusal, match="differs in map.normalize"):
        native.prepare(facts(preset_map={**NATIVE_MAP, "normalize": "none"}, op=lambda v: "bicubic"))
    with pytest.raises(ProtocolRefusal, match="upsamples with cv2_linear"):
        native.prepare(facts(op=lambda v: "bicubic", store=store()))


def test_a_stored_run_is_refused_by_what_it_holds():
    """The OGL maps and the boxes are read from the store's members, so a store written by a compat run
    whose ``ogl`` maps are gone is refused before scoring (it used to fail inside the metrics)."""
    compat, native, clean = PROTOCOLS["juanola2025"], PROTOCOLS["native"], PROTOCOLS["vssleval"]
    with pytest.raises(ProtocolRefusal, match=r"the store /runs/a/store was written by a vssleval run"):
        compat.prepare(facts(store=store()))
    with pytest.raises(ProtocolRefusal, match="OGL object prior"):
        compat.prepare(facts(store=store("boxes", written_by="juanola2025")))
    assert compat.prepare(facts(store=store("ogl", written_by="juanola2025"))).ops["neg"] == "cv2_linear"
    with pytest.raises(ProtocolRefusal, match="reads the annotation's boxes"):
        native.prepare(facts(op=lambda v: "cv2_linear", store=store("ogl")))
    native.prepare(facts(op=lambda v: "cv2_linear", store=store("boxes")))
    clean.prepare(facts(store=store()))  # the clean protocol reads neither


def test_the_negatives_audio_block_is_the_protocols():
    """Under ``vssleval`` every negative goes through the positive's front-end: the preset's
    quirk keys ``variants`` / ``noise_draws`` are dropped; the other protocols keep the preset as written.
    The preset is never modified."""
    preset_audio = {"read": {"sample_rate": 16000}, "frontend": {"type": "spectrogram", "log": True},
                    "variants": {"silence": {"frontend": {"log": False}}}, "noise_draws": 2}
    kept = copy.deepcopy(preset_audio)
    assert PROTOCOLS["vssleval"].audio_block(preset_audio) == {"read": {"sample_rate": 16000},
                                                               "frontend": {"type": "spectrogram", "log": True}}
    for name in ("juanola2025", "native"):
        block = PROTOCOLS[name].audio_block(preset_audio)
        assert block == kept
        block["variants"]["silence"]["frontend"]["log"] = True  # a copy: the preset stays as it was
    assert preset_audio == kept
    assert PROTOCOLS["vssleval"].audio_block({}) == {} and PROTOCOLS["juanola2025"].audio_block(None) == {}
    assert not any(hasattr(p, "clean_negative_audio") for p in PROTOCOLS.values())  # no flag for others to read


def test_no_import_order_dependencies_in_the_metrics():
    """Every import of vssleval/metrics sits at the top of its module (no ``# noqa: E402``)."""
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "vssleval" / "metrics").rglob("*.py")
             if "E402" in p.read_text(encoding="utf-8")]
    assert found == []
