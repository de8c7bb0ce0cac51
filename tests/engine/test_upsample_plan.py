"""The metrics' upsampling plan comes from the model YAML (``presets.<preset>.map.upsample``)."""

from __future__ import annotations

import copy

import pytest

from vssleval.engine.scoring import prepare_run, upsample_plan_for
from vssleval.errors import VsslevalError
from vssleval.models.registry import load_model_config


def test_per_dataset_keys_and_clean_protocol():
    # LVS's quirk: cv2 for the positive/object maps on VGG-SS only, torch align_corners elsewhere
    assert upsample_plan_for("lvs", "vggss") == {"positive": "cv2_linear", "ogl": "cv2_linear", "neg": "cv2_linear"}
    assert upsample_plan_for("lvs", "is3") == {"positive": "bilinear_ac", "ogl": "bilinear_ac", "neg": "cv2_linear"}
    # the clean protocol samples every variant on the positive's grid: one op name
    assert upsample_plan_for("lvs", "is3", protocol="vssleval") == "bilinear_ac"


def test_negatives_with_different_ops_are_refused():
    cfg = copy.deepcopy(load_model_config("ezvsl"))
    cfg["presets"]["juanola2025"]["map"]["upsample"]["noise"] = "bilinear_ac"
    config = {"model_config": cfg, "preset": "juanola2025", "model_name": "ezvsl", "testset": "vggss",
              "negatives": ("silence", "noise", "offscreen")}
    with pytest.raises(VsslevalError, match="different ops"):
        prepare_run(config, "juanola2025")
    assert prepare_run(config, "vssleval").ops == "bilinear_ac"  # the clean protocol uses the positive's op
