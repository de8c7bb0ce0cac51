"""Every reader on real files in a temp dir, on the fixture data (bundle and full set), and on the
real public annotation files (skipped, saying how to get them, when those are absent)."""

import collections
import json
from pathlib import Path

import numpy as np
import pytest
import shared
from shared import require

from data_helpers import VGGSS_RECORDS, write_jpg, write_wav
from vssleval.data.gt import gt_map, size_bin
from vssleval.data.registry import get_config, list_datasets, load_dataset
from vssleval.errors import VsslevalError


# --- the real 5,158-record vggss.json (metrics.md §1.1, §2.9; protocol.md §1.2-1.3) -----------------
@pytest.fixture(scope="module")
def real_vggss(tmp_path_factory):
    path = shared.metadata("vggss.json")
    return load_dataset("vggss", tmp_path_factory.mktemp("empty"), check_files=False,
                        options={"annotation": str(path)})


@pytest.mark.metadata
def test_real_vggss_counts(real_vggss):
    ds = real_vggss
    assert len(ds) == 5158
    assert sum(len(s.boxes) for s in ds) == 5941
    per = collections.Counter(len(s.boxes) for s in ds)
    assert per == {1: 4619, 2: 385, 3: 94, 4: 37, 5: 18, 6: 3, 7: 2}
    assert len({s.label for s in ds}) == 221
    assert ds[0].id == "zpWuikVorYg_000032" and ds[0].label == "elk bugling"
    assert ds[0].boxes.tolist() == [[90, 56, 134, 168]]  # int(0.403125*224)=90, int(0.253125*224)=56, ...


@pytest.mark.metadata
def test_real_vggss_gt_maps_and_size_bins(real_vggss):
    areas = np.array([gt_map(s).sum(dtype=np.float64) for s in real_vggss])
    empty = sorted(s.id for s, a in zip(real_vggss, areas) if a == 0)
    assert empty == ["M1P1xla8rg0_000000", "MKC9LvRivTM_000030"]
    assert int((areas == 224 * 224).sum()) == 3
    assert areas.mean() / 224**2 == pytest.approx(0.312, abs=5e-4)
    bins = collections.Counter(size_bin(a) for a in areas)
    assert [bins[b] for b in ("small", "medium", "large", "huge")] == [134, 1796, 1726, 1502]


@pytest.mark.metadata
def test_real_vggss_offscreen_pool_from_annotation(real_vggss):
    assert len(real_vggss.class_files) == 221
    assert sum(len(v) for v in real_vggss.class_files.values()) == 5158


# --- fixture data: 24 samples each (bundle: 4), order and ids as in the annotation files ----------
@pytest.mark.parametrize("fx", shared.sources())
def test_fixture_vggss_matches_annotation_order(fx):
    root = require(fx.data_vggss)
    records = json.loads((root / "vggss_annotations.json").read_text())
    ds = load_dataset("vggss", root)
    assert len(ds) == (24 if fx.full else 4)
    assert [s.id for s in ds] == [r["file"] for r in records]
    assert [s.label for s in ds] == [r["class"] for r in records]
    assert all(s.image_path == root / "frames" / f"{s.id}.jpg" for s in ds)
    assert all(s.audio_path == root / "audio" / f"{s.id}.wav" for s in ds)
    assert sum(len(s.boxes) == 2 for s in ds) == (4 if fx.full else 1)
    assert max(int(s.boxes[:, 2].max()) for s in ds) == 224  # the x=1.04 box is clipped
    assert set(ds.class_files) == {r["class"] for r in records}
    # SSL-TIE's file name gives the same samples
    ds2 = load_dataset("vggss", root, options={"annotation": "vggss.json"})
    assert [s.id for s in ds2] == [s.id for s in ds]


@pytest.mark.parametrize("fx", shared.sources())
def test_fixture_is3_matches_annotation_order_and_scenes(fx):
    root = require(fx.data_is3)
    records = json.loads((root / "IS3_annotation.json").read_text())
    ds = load_dataset("is3", root)
    assert len(ds) == (24 if fx.full else 4)
    assert [s.id for s in ds] == [Path(r["image"]).stem for r in records]
    assert [s.boxes.tolist() for s in ds] == [[[int(v) for v in r["gt_box"]]] for r in records]
    groups = collections.Counter(s.group for s in ds)
    assert len(groups) == len(ds) // 2 and set(groups.values()) == {2}
    assert ds.has_scenes
    by_id = {s.id: s for s in ds}
    assert by_id["accordion_baby_10437_accordion"].visible_labels == ("accordion", "baby")
    assert by_id["male_ukulele_12135_male"].visible_labels == ("human", "ukulele")
    assert by_id["male_ukulele_12135_male"].label == "human"
    if fx.full:
        assert by_id["male_female_13144_male"].visible_labels == ("human",)
        assert by_id["male_female_13144_male"].label == "human"


# --- temp-dir datasets with real media -------------------------------------------------------
def test_vggss_reader_on_temp_files(vggss_dir):
    ds = load_dataset("vggss", vggss_dir)
    assert [s.id for s in ds] == [r["file"] for r in VGGSS_RECORDS]
    assert ds[0].boxes.tolist() == [[22, 44, 112, 134]]  # 0.1*224=22.4, 0.2*224=44.8, 0.6*224=134.4
    assert ds[0].visible_labels == ("dog barking",)
    assert [s.group for s in ds] == ["", "", ""] and not ds.has_scenes  # one object per picture
    assert gt_map(ds[1]).sum() == 224 * 224
    assert ds.class_files == {"dog barking": ["aaaaaaaaaaa_000001", "ccccccccccc_000003"],
                              "cat meowing": ["bbbbbbbbbbb_000002"]}
    assert ds.audio_dir == vggss_dir / "audio"


def test_is3_reader_scene_is_exact_prefix_not_glob(is3_dir):
    ds = load_dataset("is3", is3_dir)
    assert [s.group for s in ds] == ["cat_banjo_1", "cat_banjo_1", "cat_banjo2_5", "cat_banjo2_5"]
    assert all(s.visible_labels == ("banjo", "cat") for s in ds)
    assert ds[1].boxes.tolist() == [[100, 100, 224, 200]]
    assert ds.class_files == {"cat": ["cat_banjo_1_cat", "cat_banjo2_5_cat"],
                              "banjo": ["cat_banjo_1_banjo", "cat_banjo2_5_banjo2"]}


FLICKR_XML = """<annotation><file>{id}.jpg</file>
<object><bbox><annotator>0</annotator><xmin>0</xmin><ymin>0</ymin><xmax>128</xmax><ymax>128</ymax></bbox></object>
<object><name>x</name><bbox><annotator>1</annotator><xmin>64</xmin><ymin>64</ymin><xmax>255</xmax><ymax>192</ymax></bbox></object>
</annotation>"""


def _flickr_dir(root: Path, ids, test_list="flickr_test.csv") -> Path:
    for i in ids:
        write_wav(root / "audio" / f"{i}.wav")
        write_jpg(root / "frames" / f"{i}.jpg", 256, 256)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        (root / "Annotations" / f"{i}.xml").write_text(FLICKR_XML.format(id=i))
    (root / test_list).write_bytes(b"".join(f"{i},0\r\n".encode() for i in ids))
    return root


def test_flickr_reader_consensus(tmp_path):
    root = _flickr_dir(tmp_path / "flickr", ["1001", "1002"])
    ds = load_dataset("flickr", root)
    assert [s.id for s in ds] == ["1001", "1002"]
    s = ds[0]
    assert s.gt_rule == "consensus" and not ds.has_scenes
    # 256-px boxes -> trunc(224 v / 256): [0,0,112,112] and [56,56,223,168]
    assert s.boxes.tolist() == [[0, 0, 112, 112], [56, 56, 223, 168]]
    assert s.annotators.tolist() == [1, 2]  # parent index among the root's children
    m = gt_map(s)
    assert m[0, 0] == 0.5 and m[60, 60] == 1.0 and m[150, 150] == 0.5 and m[200, 200] == 0
    overlap = 56 * 56
    assert m.sum() == pytest.approx(overlap + 0.5 * (112 * 112 + 167 * 112 - 2 * overlap))


def test_flickr249_uses_its_own_list(tmp_path):
    root = _flickr_dir(tmp_path / "f", ["1001", "1002"], test_list="flickr_test_249.csv")
    assert [s.id for s in load_dataset("flickr249", root)] == ["1001", "1002"]


@pytest.mark.metadata
def test_real_flickr_lists_parse(tmp_path):
    from vssleval.data.readers.common import read_id_list

    ids249 = read_id_list(shared.metadata("flickr_test_249.csv"))
    ids250 = read_id_list(shared.metadata("flickr_test_250.csv"))
    assert len(ids249) == 249 and len(ids250) == 250
    assert set(ids250) - set(ids249) == {"3908875350"}
    assert ids250[:2] == ["10000130166", "10007936344"]


def test_extended_vggss_adds_negatives_with_empty_gt(vggss_dir):
    a, b, c = (r["file"] for r in VGGSS_RECORDS)
    write_wav(vggss_dir / "audio" / "zzzzzzzzzzz_000009.wav")
    write_jpg(vggss_dir / "frames" / "zzzzzzzzzzz_000009.jpg")
    (vggss_dir / "vggss_test_plus_silent.csv").write_bytes(
        f"video,audio,label\r\n{a},{b},non-sounding\r\nzzzzzzzzzzz_000009,zzzzzzzzzzz_000009,non-sounding\r\n".encode())
    ds = load_dataset("vggss_extended", vggss_dir)
    assert len(ds) == 5
    negs = [s for s in ds if s.is_negative]
    assert [s.id for s in negs] == [f"{a}+{b}", "zzzzzzzzzzz_000009+zzzzzzzzzzz_000009"]
    assert negs[0].image_path.name == f"{a}.jpg" and negs[0].audio_path.name == f"{b}.wav"
    assert negs[0].visible_labels == ("dog barking",)
    assert all(len(s.boxes) == 0 and gt_map(s).sum() == 0 for s in negs)
    assert not ds.has_scenes  # a negative pairs a picture with other audio: no scene either


@pytest.mark.metadata
def test_real_extended_lists_parse_with_counts(tmp_path):
    from vssleval.data.readers.common import read_csv_rows

    rows = read_csv_rows(shared.metadata("vggss_test_plus_silent.csv"), ("video", "audio", "label"))
    assert len(rows) == 5158 and {r["label"] for r in rows} == {"non-sounding"}
    assert sum(r["video"] == r["audio"] for r in rows) == 379
    rows = read_csv_rows(shared.metadata("flickr_test_plus_silent.csv"), ("video", "audio", "label"))
    assert len(rows) == 250 and len({r["video"] for r in rows}) == 250


def test_extended_flickr(tmp_path):
    root = _flickr_dir(tmp_path / "fx", ["1001", "1002"])
    (root / "flickr_test_plus_silent.csv").write_text("video,audio,label\n1001,1002,non-sounding\n")
    ds = load_dataset("flickr_extended", root)
    assert [s.is_negative for s in ds] == [False, False, True]
    assert ds[2].gt_rule == "union" and gt_map(ds[2]).sum() == 0 and not ds.has_scenes


def test_registry_lists_every_layout():
    names = list_datasets()
    for n in ("vggss", "is3", "flickr", "flickr249", "vggss_extended", "flickr_extended",
              "synthetic-vggss", "synthetic-is3"):
        assert n in names
    assert get_config("synthetic-is3")["layout"] == "is3"
    assert get_config("vggss_extended")["options"]["annotation"] == ["vggss_annotations.json", "vggss.json", "annotations.json"]


def test_unknown_dataset_and_layout(tmp_path):
    with pytest.raises(VsslevalError, match="unknown dataset 'nope'"):
        load_dataset("nope", tmp_path)
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "odd.yaml").write_text("name: odd\nlayout: avsbench\n")
    with pytest.raises(VsslevalError, match="unknown layout 'avsbench'"):
        load_dataset("odd", tmp_path, config_directory=tmp_path / "cfg")


def test_real_dataset_needs_a_data_dir():
    with pytest.raises(VsslevalError, match="needs a data directory"):
        load_dataset("vggss", None)
