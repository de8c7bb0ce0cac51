"""Issue 11, input defects: non-finite and too-short audio (D3, D9), high-bit-depth images (D25),
records without boxes (D5), inversion before clipping (D6), paths that leave --data-dir (D7),
deeply nested JSON (D21) and the skip-fraction gate (D4). Each case fails on commit da849af."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from data_helpers import VGGSS_RECORDS, write_jpg, write_json, write_wav
from vssleval.data import audio as aio
from vssleval.data.boxes import BoxError, normalized_to_grid, pixels_to_grid
from vssleval.data.image import load_rgb
from vssleval.data.registry import load_dataset
from vssleval.errors import BadSampleError, VsslevalError

FIRST = VGGSS_RECORDS[0]["file"]


def _bad_first(vggss_dir, path, reason, kind):
    """Loading stops naming the first record, ``path`` and ``reason``; with skip_bad it is recorded under
    ``kind`` and the other records load."""
    with pytest.raises(BadSampleError) as exc:
        load_dataset("vggss", vggss_dir)
    assert FIRST in str(exc.value) and str(path) in str(exc.value) and reason in str(exc.value)
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [s.id for s in ds] == [r["file"] for r in VGGSS_RECORDS[1:]]
    assert [(k.id, k.kind) for k in ds.skips] == [(FIRST, kind)]


# -- D3: non-finite audio --------------------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nonfinite_float_wav_is_a_bad_sample(vggss_dir, value):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    x = np.full(8000, 0.1)
    x[100] = value
    sf.write(str(p), x, 16000, subtype="FLOAT")
    _bad_first(vggss_dir, p, "1 NaN or infinite sample", "nonfinite_audio")


def test_datasets_command_reports_nonfinite_audio(vggss_dir, capsys):
    from vssleval import cli

    x = np.full(8000, 0.1)
    x[5] = np.nan
    sf.write(str(vggss_dir / "audio" / f"{FIRST}.wav"), x, 16000, subtype="FLOAT")
    assert cli.main(["datasets", "vggss", "--data-dir", str(vggss_dir)]) == 1
    assert "bad samples: 1 (nonfinite_audio 1)" in capsys.readouterr().out


@pytest.mark.parametrize("scale", ["soundfile", "pyav"])
def test_read_audio_refuses_nonfinite_samples_under_both_scales(tmp_path, scale):
    p = tmp_path / "nan_clip.wav"
    x = np.zeros(4000)
    x[[3, 7]] = np.nan
    sf.write(str(p), x, 16000, subtype="DOUBLE")
    with pytest.raises(BadSampleError, match="nan_clip.*|2 NaN") as exc:
        aio.read_audio(p, scale=scale)
    assert exc.value.kind == "nonfinite_audio" and "2 NaN or infinite" in str(exc.value)


def test_finite_float_wav_is_accepted(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    sf.write(str(p), np.full(8000, 0.25), 16000, subtype="FLOAT")
    assert len(load_dataset("vggss", vggss_dir)) == 3


# -- D9: audio shorter than 0.1 s ------------------------------------------------------------------
def test_one_sample_wav_is_a_bad_sample(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    sf.write(str(p), np.array([1000], dtype=np.int16), 16000, subtype="PCM_16")
    _bad_first(vggss_dir, p, "too short (1 samples at 16000 Hz", "short_audio")


def test_minimum_duration_edge(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    write_wav(p, seconds=0.1, sr=16000)  # exactly 1600 samples: accepted
    assert len(load_dataset("vggss", vggss_dir)) == 3
    sf.write(str(p), np.ones(1599, dtype=np.int16), 16000, subtype="PCM_16")
    assert load_dataset("vggss", vggss_dir, skip_bad=True).skips[0].kind == "short_audio"


# -- D25: 16-bit and float images ------------------------------------------------------------------
def test_16bit_png_named_jpg_is_scaled_not_saturated(vggss_dir):
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    grey = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)  # up to 64491
    Image.fromarray(grey).save(p, format="PNG")
    assert Image.open(p).mode == "I;16"
    rgb = np.asarray(load_rgb(p))
    assert rgb.shape == (48, 64, 3)
    expected = (grey >> 8).astype(np.uint8)  # the high byte: 64491 -> 251, 1000 -> 3
    assert np.array_equal(rgb[..., 0], expected) and np.array_equal(rgb[..., 2], expected)
    assert (rgb == 255).mean() < 0.01  # PIL's own convert("RGB") clips ~99 % of these pixels to 255
    assert len(load_dataset("vggss", vggss_dir)) == 3


def test_float_image_is_refused_by_name(vggss_dir):
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    Image.fromarray(np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)).save(p, format="TIFF")
    _bad_first(vggss_dir, p, "32-bit float", "unsupported_image")
    with pytest.raises(BadSampleError, match="32-bit float"):
        load_rgb(p)


# -- D5: a record without bbox ---------------------------------------------------------------------
def test_record_without_bbox_is_an_error_naming_it(vggss_dir):
    records = [dict(r) for r in VGGSS_RECORDS]
    del records[0]["bbox"]
    write_json(vggss_dir / "vggss_annotations.json", records)
    with pytest.raises(BadSampleError, match=f"sample '{FIRST}': record has no 'bbox'") as exc:
        load_dataset("vggss", vggss_dir, check_files=False)
    assert '"bbox": []' in str(exc.value)
    records[0]["bbox"] = []  # the one way to say "no box"
    write_json(vggss_dir / "vggss_annotations.json", records)
    ds = load_dataset("vggss", vggss_dir)
    assert ds[0].id == FIRST and ds[0].boxes.shape == (0, 4)


# -- D6: inversion is checked before clipping ------------------------------------------------------
@pytest.mark.parametrize("box", [[0.8, 0.8, 1.5, 0.2], [0.5, 0.1, -0.2, 0.9], [1.2, 0.1, 1.1, 0.5]])
def test_inverted_box_with_an_out_of_frame_corner_is_refused(box):
    with pytest.raises(BoxError, match="inverted"):
        normalized_to_grid([box])


def test_inverted_pixel_box_out_of_frame_is_refused():
    with pytest.raises(BoxError, match="inverted"):
        pixels_to_grid([100, 100, 300, 50])
    assert pixels_to_grid([100, 100, 300, 150]).tolist() == [[100, 100, 224, 150]]  # clipped, not refused


def test_corrupted_coordinates_still_empty_their_box():
    # the public file's -2.88e16 (docs/datasets.md §2.3): more than a frame away, clipped as the reference does
    out = normalized_to_grid([[0.678125, 0.603125, -2.8823037615171176e16, -2.8823037615171176e16],
                              [0.384375, 0.859375, 0.696875, -2.8823037615171176e16]])
    assert out.tolist() == [[151, 135, 0, 0], [86, 192, 156, 0]]


def test_inverted_box_in_a_vggss_record_is_a_bad_sample(vggss_dir):
    records = [dict(r) for r in VGGSS_RECORDS]
    records[0]["bbox"] = [[0.8, 0.8, 1.5, 0.2]]
    write_json(vggss_dir / "vggss_annotations.json", records)
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [(k.id, k.kind) for k in ds.skips] == [(FIRST, "bad_box")] and len(ds) == 2


# -- D7: media paths stay inside --data-dir ---------------------------------------------------------
@pytest.fixture
def outside(tmp_path):
    """Readable media outside the data folder, where an escaping id would find them."""
    out = tmp_path / "outside"
    write_wav(out / "x.wav")
    write_jpg(out / "x.jpg")
    return out


@pytest.mark.parametrize("check_files", [True, False])
def test_ids_that_climb_out_or_are_absolute_are_refused(vggss_dir, outside, check_files):
    records = [dict(r) for r in VGGSS_RECORDS]
    records[0]["file"] = "../../outside/x"
    records[1]["file"] = str(outside / "x")
    write_json(vggss_dir / "vggss_annotations.json", records)
    with pytest.raises(BadSampleError, match="leaves the data folder") as exc:
        load_dataset("vggss", vggss_dir, check_files=check_files)
    assert "../../outside/x" in str(exc.value)
    ds = load_dataset("vggss", vggss_dir, check_files=check_files, skip_bad=True)
    assert [s.id for s in ds] == [VGGSS_RECORDS[2]["file"]]
    assert {k.kind for k in ds.skips} == {"path_escape"} and len(ds.skips) == 2


def test_file_symlink_to_outside_is_refused(vggss_dir, outside):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    p.unlink()
    os.symlink(outside / "x.wav", p)
    _bad_first(vggss_dir, p, "leaves the data folder", "path_escape")


def test_symlinked_data_dir_and_media_folders_are_allowed(vggss_dir, tmp_path):
    link = tmp_path / "link-to-data"
    os.symlink(vggss_dir, link)
    assert len(load_dataset("vggss", link)) == 3
    # frames on another disk: a top-level media folder that is a symlink
    elsewhere = tmp_path / "disk2" / "frames"
    elsewhere.parent.mkdir()
    (vggss_dir / "frames").rename(elsewhere)
    os.symlink(elsewhere, vggss_dir / "frames")
    assert len(load_dataset("vggss", vggss_dir)) == 3


def test_offscreen_clip_outside_the_data_dir_is_refused(vggss_dir, outside):
    write_json(vggss_dir / "vggss_class_files_dict.json",
               {"dog barking": [VGGSS_RECORDS[0]["file"], "../../outside/x"]})
    with pytest.raises(BadSampleError, match="offscreen clip of the class-files dict: audio"):
        load_dataset("vggss", vggss_dir, check_files=False)
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [k.kind for k in ds.skips] == ["offscreen_path_escape"] and len(ds) == 3
    assert ds.class_files == {"dog barking": [VGGSS_RECORDS[0]["file"]]}


def test_flickr_annotation_outside_the_data_dir_is_not_read(tmp_path):
    root = tmp_path / "flickr"
    (root / "Annotations").mkdir(parents=True)
    (tmp_path / "evil.xml").write_text("<annotation><object><bbox><a/><x>1</x><y>1</y><x>9</x><y>9</y></bbox>"
                                       "</object></annotation>")
    (root / "flickr_test.csv").write_text("../../evil,0\n")
    with pytest.raises(BadSampleError, match="annotation path leaves the data folder"):
        load_dataset("flickr", root, check_files=False)


# -- D21: deeply nested JSON -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["vggss_annotations.json", "vggss_class_files_dict.json"])
def test_deeply_nested_json_names_the_file(vggss_dir, name):
    path = vggss_dir / name
    path.write_text("[" * 200000)
    with pytest.raises(VsslevalError, match="nested too deeply") as exc:
        load_dataset("vggss", vggss_dir)
    assert str(path) in str(exc.value) and not isinstance(exc.value.__cause__, RecursionError)


# -- D4: the skip-fraction gate --------------------------------------------------------------------
def test_max_skip_fraction_refuses_with_counts_by_reason(vggss_dir):
    (vggss_dir / "audio" / f"{FIRST}.wav").unlink()
    with pytest.raises(VsslevalError) as exc:
        load_dataset("vggss", vggss_dir, skip_bad=True, max_skip_fraction=0.05)
    msg = str(exc.value)
    assert "skip 1 of 3 records (33.3 %)" in msg and "--max-skip-fraction 0.05" in msg
    assert "(missing_audio 1)" in msg and FIRST in msg
    ds = load_dataset("vggss", vggss_dir, skip_bad=True, max_skip_fraction=0.5)
    assert len(ds) == 2
    from vssleval.data.checks import skip_summary  # new in issue 11

    summary = skip_summary(ds.skips, len(ds))
    assert {k: summary[k] for k in ("samples", "records", "offscreen_clips", "by_reason")} == {
        "samples": 1, "records": 3, "offscreen_clips": 0, "by_reason": {"missing_audio": 1}}


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), "lots"])
def test_max_skip_fraction_must_be_a_fraction(vggss_dir, value):
    with pytest.raises(VsslevalError, match="--max-skip-fraction must be"):
        load_dataset("vggss", vggss_dir, skip_bad=True, max_skip_fraction=value)
