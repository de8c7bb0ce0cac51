"""The embedded synthetic benchmark: determinism, layouts, size bins, distinct classes, IS3 fairness, speed."""

import collections
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import shared
from vssleval.data.gt import gt_map, size_bin
from vssleval.data.registry import load_dataset
from vssleval.data.synthetic import CLASSES, default_synthetic_dir, synth
from vssleval.data.synthetic.render import paint
from vssleval.data.synthetic.sound import SR, clip_audio
from vssleval.errors import VsslevalError


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache holding the two default (n=200) datasets, each generated once per session
    (``shared.default_synthetic_set``, shared with tests/test_wheel.py) and linked in here; their
    generation time is measured by scripts/bench_main_job.py, not asserted here."""
    return shared.linked_synthetic_cache(tmp_path_factory, tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize("layout", ["vggss", "is3"])
def test_same_seed_gives_byte_identical_files(tmp_path, layout):
    a = _hashes(synth(layout, 6, 11, tmp_path / "a"))
    assert a == _hashes(synth(layout, 6, 11, tmp_path / "b"))
    assert a != _hashes(synth(layout, 6, 12, tmp_path / "c"))
    train = _hashes(synth(layout, 6, 11, tmp_path / "d", split="train"))
    assert not set(a.values()) & set(train.values())  # the train split shares no file with the test split


@pytest.mark.slow  # the two default 200-sample sets (module fixture)
def test_vggss_layout_reads_back_with_all_size_bins(cache, monkeypatch):
    root = cache
    monkeypatch.setenv("VSSLEVAL_CACHE", str(root))
    ds = load_dataset("synthetic-vggss")  # no data dir: the cached default
    assert len(ds) == 200 and ds.root == root / "synthetic" / "vggss-n200-s0-v2"
    for name in ("audio", "frames", "vggss_annotations.json", "vggss.json", "vggss_class_files_dict.json"):
        assert (ds.root / name).exists()
    bins = collections.Counter(size_bin(gt_map(s).sum()) for s in ds)
    assert all(bins[b] >= 30 for b in ("small", "medium", "large", "huge")), bins
    labels = collections.Counter(s.label for s in ds)
    assert len(labels) == len(CLASSES) >= 8 and set(labels.values()) == {20}
    import soundfile as sf

    info = sf.info(str(ds[0].audio_path))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 160000, "PCM_16")


def test_is3_layout_reads_back(cache, monkeypatch):
    root = cache
    monkeypatch.setenv("VSSLEVAL_CACHE", str(root))
    ds = load_dataset("synthetic-is3")
    assert len(ds) == 200
    groups = collections.defaultdict(list)
    for s in ds:
        groups[s.group].append(s)
    assert len(groups) == 100
    for pair in groups.values():
        a, b = pair
        assert a.label != b.label and a.visible_labels == b.visible_labels == tuple(sorted((a.label, b.label)))
        assert (gt_map(a) * gt_map(b)).sum() == 0  # the two objects do not overlap
    # large objects, so the median rule (a mask of half the picture) can reward a model that listens:
    # every box covers about 20-45 % of the picture, most of them the quarter IoU 0.5 needs
    areas = np.array([gt_map(s).sum() for s in ds]) / 224**2
    assert areas.min() >= 0.19 and areas.max() <= 0.46, (areas.min(), areas.max())
    assert (areas >= 0.25).mean() >= 0.6
    bins = collections.Counter(size_bin(a * 224**2) for a in areas)
    assert bins["small"] == bins["medium"] == 0 and bins["large"] >= 100 and bins["huge"] >= 5, bins
    # the pair's placement varies: side by side and stacked, the first-named object on either side
    side = collections.Counter()
    for a, b in groups.values():
        ca = (a.boxes[0, :2] + a.boxes[0, 2:]) / 2  # box centres (x, y)
        cb = (b.boxes[0, :2] + b.boxes[0, 2:]) / 2
        axis = int(np.argmax(np.abs(ca - cb)))  # 0: side by side, 1: stacked
        side[axis, bool(ca[axis] < cb[axis])] += 1
    assert len(side) == 4 and min(side.values()) >= 10, side


def _box_features(img: np.ndarray, box) -> dict[str, float]:
    x0, y0, x1, y1 = box
    patch = img[y0:y1, x0:x1].reshape(-1, 3).astype(float)
    return {"area": (x1 - x0) * (y1 - y0), "left": -x0, "top": -y0,
            "saturation": float((patch.max(1) - patch.min(1)).mean()),
            "contrast": float(np.abs(patch.mean(0) - img.reshape(-1, 3).mean(0)).sum())}


@pytest.mark.slow  # the two default 200-sample sets (module fixture)
def test_is3_audio_agnostic_predictors_score_chance(cache):
    """Pick-one-object rules that ignore audio (bigger, left-most, upper, more saturated, more contrasting)
    are right on exactly half the records: both records of a scene carry the same picture."""
    from PIL import Image

    root = cache
    ds = load_dataset("is3", root / "synthetic" / "is3-n200-s0-v2")
    groups = collections.defaultdict(list)
    for s in ds:
        groups[s.group].append(s)
    correct = collections.Counter()
    sounding_first = 0
    role = collections.Counter()
    for a, b in groups.values():
        assert a.image_path.read_bytes() == b.image_path.read_bytes()
        img = np.asarray(Image.open(a.image_path).convert("RGB"))
        fa, fb = _box_features(img, a.boxes[0]), _box_features(img, b.boxes[0])
        for rule in fa:
            pick_a = fa[rule] >= fb[rule]  # the same choice for both records: the image is the same
            correct[rule] += int(pick_a) + int(not pick_a)  # record a is right iff a picked; record b iff b
        sounding_first += a.id.split("_")[0] == a.label
        role[a.label] += 1
        role[b.label] += 1
    for rule, n in correct.items():
        assert n / len(ds) == 0.5, rule
    assert sounding_first == 100  # records come (first-named, second-named) and each sounds once
    assert max(role.values()) - min(role.values()) <= 4  # every class sounds about equally often


def test_classes_have_distinct_looks_and_sounds():
    assert len(CLASSES) >= 8
    assert len({c.shape for c in CLASSES}) == len(CLASSES)
    assert len({c.color for c in CLASSES}) == len(CLASSES)
    assert len({c.sound for c in CLASSES}) == len(CLASSES)

    def feat(x):
        # log energy in 48 log-spaced bands: a cheap timbre fingerprint
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        edges = np.geomspace(60, 7900, 49)
        e = np.array([spec[(f >= lo) & (f < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
        return np.log(e / e.sum() + 1e-3)  # floor: bands holding only background noise compare equal

    rng = np.random.default_rng(0)
    train = np.stack([np.mean([feat(clip_audio(c, rng, 2.0)) for _ in range(2)], 0) for c in CLASSES])
    hits = [int(np.argmin(((train - feat(clip_audio(c, rng, 2.0))) ** 2).sum(1))) == k
            for k, c in enumerate(CLASSES) for _ in range(3)]  # fresh jittered clips
    # a nearest-centroid on a coarse spectral fingerprint already tells the classes apart
    assert sum(hits) >= len(hits) - 1, hits


def test_paint_returns_the_tight_box_of_drawn_pixels():
    rng = np.random.default_rng(1)
    for c in CLASSES:
        canvas = np.zeros((224, 224, 3), dtype=np.uint8)
        box = paint(canvas, c, (30, 40, 101, 90), rng)
        drawn = (canvas.max(axis=2) > 0) | np.zeros((224, 224), bool)
        # colours are never pure black, so "drawn" is exactly the mask
        rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
        assert box == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1), c.name
        assert 30 <= box[0] and box[2] <= 101 and 40 <= box[1] and box[3] <= 90


def test_annotation_box_reproduces_drawn_box_exactly(tmp_path):
    root = synth("vggss", 4, 3, tmp_path / "v")
    recs = json.loads((root / "vggss_annotations.json").read_text())
    ds = load_dataset("vggss", root)
    for r, s in zip(recs, ds):
        # normalised coordinates survive the reader's int(c * 224) truncation
        assert s.boxes.tolist() == [[int(c * 224) for c in r["bbox"][0]]]
        assert s.boxes[0, 2] > s.boxes[0, 0] and s.boxes[0, 3] > s.boxes[0, 1]


def test_synth_argument_errors(tmp_path):
    with pytest.raises(VsslevalError, match="even"):
        synth("is3", 5, 0, tmp_path / "odd")
    with pytest.raises(VsslevalError, match="unknown synthetic layout"):
        synth("flickr", 4, 0, tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(VsslevalError, match="not empty"):
        synth("vggss", 2, 0, tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "x"
    assert not list(tmp_path.glob(".*.tmp"))  # no temp folders left behind


def test_default_dir_is_generated_once(tmp_path):
    p = default_synthetic_dir("vggss", n=2, seed=5, root=tmp_path)
    assert p == tmp_path / "synthetic" / "vggss-n2-s5-v2"  # the generator version: old caches never reused
    stamp = (p / "synthetic_info.json").stat().st_mtime_ns
    assert default_synthetic_dir("vggss", n=2, seed=5, root=tmp_path) == p
    assert (p / "synthetic_info.json").stat().st_mtime_ns == stamp
    assert default_synthetic_dir("vggss", n=2, seed=5, split="train", root=tmp_path).name == "vggss-train-n2-s5-v2"


# -- a cache that cannot hold the benchmark (issue 19) -----------------------------------------------
def _evaluate_default_benchmark(capsys, tmp_path) -> str:
    """``vssleval evaluate`` on the embedded benchmark (no --data-dir, no --out blame possible)."""
    from vssleval.cli import main

    out = tmp_path / "run"
    assert main(["evaluate", "--model", "center", "--dataset", "synthetic-is3", "--limit", "2", "--seeds", "1",
                 "--device", "cpu", "--bootstrap", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    [line] = [l for l in err.splitlines() if l.startswith("vssleval: error:")]
    assert "--out" not in line.split("Fix:")[0] and "--n" not in line  # options the user never passed
    return line


def test_cache_that_is_a_file_names_vssleval_cache(tmp_path, monkeypatch, capsys):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("VSSLEVAL_CACHE", str(tmp_path / "cache"))
    line = _evaluate_default_benchmark(capsys, tmp_path)
    assert f"in the cache folder $VSSLEVAL_CACHE={tmp_path / 'cache'}: {tmp_path / 'cache'} is a file, not a " \
           "folder. Fix: set VSSLEVAL_CACHE to a writable folder" in line


def test_cache_on_a_small_disk_names_vssleval_cache(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 20, 1 << 20, 4096))  # a 1 MiB mount, full
    monkeypatch.setenv("VSSLEVAL_CACHE", str(tmp_path / "cache"))
    line = _evaluate_default_benchmark(capsys, tmp_path)
    assert "$VSSLEVAL_CACHE" in line and "its disk has 4.0 KiB free and the benchmark needs about" in line
    assert not list((tmp_path / "cache").rglob("*.wav"))


def test_cache_on_a_read_only_mount_names_vssleval_cache(tmp_path, monkeypatch, capsys):
    """A read-only mount refuses the first write (simulated: the test may run as root, whom a chmod'ed
    folder does not stop)."""
    import errno

    from vssleval.data.synthetic import cache

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "cache" / "synthetic" / "x"))

    monkeypatch.setattr(cache, "synth", read_only)
    monkeypatch.setenv("VSSLEVAL_CACHE", str(tmp_path / "cache"))
    line = _evaluate_default_benchmark(capsys, tmp_path)
    assert f"$VSSLEVAL_CACHE={tmp_path / 'cache'}: Read-only file system" in line
    assert "VSSLEVAL_CACHE to a writable" in line
