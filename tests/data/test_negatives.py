"""The negative-audio sampler: pure function of (seed, index), exclusion of visible classes."""

import collections
import dataclasses

import numpy as np
import pytest
import shared
from shared import require

from vssleval.data.negatives import OffscreenPool, noise, silence
from vssleval.data.registry import load_dataset
from vssleval.data.types import Sample
from vssleval.errors import VsslevalError


def _sample(sid, visible=(), label=""):
    return Sample(sid, None, None, np.zeros((0, 4), dtype=np.int64), label=label, visible_labels=tuple(visible))


def test_silence_is_digital_zeros():
    s = silence(16000)
    assert s.dtype == np.float64 and s.shape == (16000,) and not s.any()


def test_noise_is_pure_function_of_seed_and_index():
    a = noise(3, 17, 48000)
    assert a.dtype == np.float64 and a.shape == (48000,)
    np.testing.assert_array_equal(a, noise(3, 17, 48000))
    # independent of call order / what else was drawn (no global state)
    noise(3, 16, 1000), np.random.seed(0), np.random.rand(5)
    np.testing.assert_array_equal(a, noise(3, 17, 48000))
    assert not np.array_equal(a, noise(3, 18, 48000)) and not np.array_equal(a, noise(4, 17, 48000))
    assert abs(a.mean()) < 0.02 and abs(a.std() - 1.0) < 0.02  # N(0, 1), not clipped
    assert np.abs(a).max() > 1.0


def test_noise_prefix_independent_of_length():
    # the waveform for a shorter request is a prefix: batch/crop choices cannot change the draw
    np.testing.assert_array_equal(noise(1, 2, 100), noise(1, 2, 1000)[:100])


def test_noise_drawn_into_a_given_array():
    """``out=``: the same values, in the caller's array (a row of the engine's [S, n] noise block)."""
    block = np.full((2, 1000), 7.0)
    assert noise(3, 17, 600, out=block[1, :600]) is not None
    np.testing.assert_array_equal(block[1, :600], noise(3, 17, 600))
    assert (block[1, 600:] == 7.0).all() and (block[0] == 7.0).all()  # nothing else written
    with pytest.raises(ValueError, match="float64 \\[600\\]"):
        noise(3, 17, 600, out=np.zeros(600, np.float32))
    with pytest.raises(ValueError, match="float64 \\[600\\]"):
        noise(3, 17, 600, out=np.zeros(601))


def test_bad_seed_rejected():
    with pytest.raises(VsslevalError):
        noise(-1, 0, 10)


POOL = {"dog": ["d1", "d2", "d3"], "cat": ["c1"], "bird": ["b1", "b2"], "empty": []}


def test_offscreen_excludes_visible_and_own_class():
    pool = OffscreenPool(POOL, "/audio")
    seen = collections.Counter()
    for i in range(600):
        d = pool.draw(7, i, _sample("d1", visible=("cat",)))
        assert d.offscreen_class == "bird"  # dog (own clip's class) and cat (visible) excluded
        assert d.excluded == ("cat", "dog") and d.n_classes == 1
        assert d.offscreen_path == f"/audio/{d.offscreen_id}.wav"
        seen[d.offscreen_id] += 1
    assert set(seen) == {"b1", "b2"} and min(seen.values()) > 240  # clip-uniform within the class


def test_offscreen_is_class_uniform_not_clip_uniform():
    pool = OffscreenPool({"a": [f"a{i}" for i in range(9)], "b": ["b0"], "c": ["c0"]}, "/x")
    counts = collections.Counter(pool.draw(0, i, _sample("q", visible=("c",))).offscreen_class for i in range(2000))
    # class-uniform over {a, b}: ~1000 each (clip-uniform would give a ~1800)
    assert abs(counts["a"] - 1000) < 120 and abs(counts["b"] - 1000) < 120 and "c" not in counts


def test_offscreen_draw_is_deterministic_and_independent_of_order():
    pool = OffscreenPool(POOL, "/audio")
    s = _sample("zz", visible=("dog",))
    forward = [pool.draw(5, i, s) for i in range(50)]
    backward = [pool.draw(5, i, s) for i in reversed(range(50))][::-1]
    assert forward == backward
    # dict order does not matter (classes and clips are sorted)
    pool2 = OffscreenPool({k: list(reversed(v)) for k, v in reversed(list(POOL.items()))}, "/audio")
    assert [pool2.draw(5, i, s) for i in range(50)] == forward
    rec = forward[0].as_dict()
    assert rec["seed"] == 5 and rec["index"] == 0 and rec["sample_id"] == "zz" and rec["excluded"] == ["dog"]
    assert rec == {**dataclasses.asdict(forward[0]), "excluded": ["dog"]}  # every field, in field order
    assert list(rec) == [f.name for f in dataclasses.fields(forward[0])]


def test_offscreen_eligibility_is_per_sample_and_visible_set():
    """The pool computes a sample's eligible classes once (every seed draws from the same set); the
    same id shown with other visible classes is another set."""
    pool = OffscreenPool(POOL, "/audio")
    assert {pool.draw(s, 0, _sample("zz", visible=("dog", "bird"))).offscreen_class for s in range(20)} == {"cat"}
    assert {pool.draw(s, 0, _sample("zz", visible=("dog", "cat"))).offscreen_class for s in range(20)} == {"bird"}
    fresh = OffscreenPool(POOL, "/audio")  # nothing cached: the same draws
    assert [pool.draw(s, 3, _sample("d1")) for s in range(20)] == [fresh.draw(s, 3, _sample("d1")) for s in range(20)]


def test_no_class_left_is_an_error():
    with pytest.raises(VsslevalError, match="no offscreen class left"):
        OffscreenPool({"dog": ["d1"]}, "/a").draw(0, 0, _sample("d1"))


@pytest.mark.parametrize("fx", shared.sources())
def test_is3_fixture_excludes_both_scene_objects(fx):
    ds = load_dataset("is3", require(fx.data_is3), check_files=False)
    pool = ds.offscreen_pool()
    for seed in range(3):
        for i, s in enumerate(ds):
            d = pool.draw(seed, i, s)
            assert d.offscreen_class not in s.visible_labels
            assert len(s.visible_labels) in (1, 2)
            assert d.offscreen_id in ds.class_files[d.offscreen_class]
            assert d.offscreen_path.startswith(str(ds.root / "audio_wav"))
