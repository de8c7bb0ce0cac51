"""Ground-truth maps and box conversion, against hand-computed cases."""

import numpy as np
import pytest

from vssleval.data.boxes import BoxError, frame_to_grid, normalized_to_grid, pixels_to_grid
from vssleval.data.gt import boxes_to_map, gt_map, size_bin
from vssleval.data.types import Sample


def test_normalized_truncates_not_rounds():
    # 0.0049*224 = 1.0976 -> 1 ; 0.5*224 = 112 ; 0.999*224 = 223.776 -> 223 (rounding would give 224)
    out = normalized_to_grid([[0.0049, 0.5, 0.999, 0.7]])
    assert out.tolist() == [[1, 112, 223, 156]]  # 0.7*224 = 156.79999999999998 -> 156
    assert out.dtype == np.int64


def test_normalized_clips_corrupted_values_to_empty_box():
    # The public vggss.json's -2.88e16 xmax clips to 0: an empty box, not an error.
    out = normalized_to_grid([[0.2, 0.1, -2.882e16, 0.5], [0.5, 0.5, 1.04, 1.0]])
    assert out.tolist() == [[44, 22, 0, 112], [112, 112, 224, 224]]
    assert boxes_to_map(out).sum() == 112 * 112


def test_half_open_rows_and_cols():
    m = boxes_to_map(np.array([[2, 3, 5, 4]]))
    assert m.shape == (224, 224) and m.dtype == np.float32
    assert m.sum() == 3  # one row (3) x three columns (2, 3, 4)
    assert m[3, 2] == m[3, 4] == 1 and m[3, 5] == 0 and m[4, 2] == 0 and m[2, 2] == 0


def test_degenerate_boxes_cover_nothing():
    assert boxes_to_map(np.array([[10, 224, 20, 224]])).sum() == 0  # ymin = ymax (M1P1xla8rg0_000000)
    assert boxes_to_map(np.zeros((0, 4), dtype=np.int64)).sum() == 0


def test_union_is_binary():
    m = boxes_to_map(np.array([[0, 0, 10, 10], [5, 5, 15, 15]]), "union")
    assert set(np.unique(m)) == {0.0, 1.0}
    assert m.sum() == 100 + 100 - 25


def test_consensus_counts_boxes_over_two():
    # three annotators: A [0,10)x[0,10), B [5,15)x[5,15), C [8,9)x[8,9)
    m = boxes_to_map(np.array([[0, 0, 10, 10], [5, 5, 15, 15], [8, 8, 9, 9]]), "consensus")
    assert set(np.unique(m)) == {0.0, 0.5, 1.0}
    assert m[0, 0] == 0.5 and m[6, 6] == 1.0 and m[8, 8] == 1.0 and m[14, 14] == 0.5 and m[20, 20] == 0
    # mass: 25 px of weight 1 (overlap) + 150 px of weight 0.5
    assert m.sum() == pytest.approx(25 + 0.5 * 150)


def test_flickr_frame_conversion():
    # trunc(224 * v / 256): 255 -> 223.125 -> 223 ; 256 -> 224 ; 9 -> 7.875 -> 7
    assert frame_to_grid([[9, 0, 255, 256]]).tolist() == [[7, 0, 223, 224]]


def test_pixels_conversion_truncates():
    assert pixels_to_grid([47.9, 99.0, 154.5, 185.0]).tolist() == [[47, 99, 154, 185]]


@pytest.mark.parametrize("bad", [[[0.1, float("nan"), 0.5, 0.5]], [[0.6, 0.1, 0.3, 0.5]], [[0.1, 0.5, 0.3, 0.2]],
                                 [[0.1, 0.2, 0.3]]])
def test_nan_inverted_or_malformed_boxes_raise(bad):
    with pytest.raises(BoxError):
        normalized_to_grid(bad)


def test_gt_map_of_negative_is_empty(tmp_path):
    s = Sample("x", tmp_path / "a.jpg", tmp_path / "a.wav", np.array([[0, 0, 5, 5]]), is_negative=True)
    assert gt_map(s).sum() == 0


@pytest.mark.parametrize("area,name", [(0, "small"), (1023, "small"), (1024, "medium"), (9215.5, "medium"),
                                       (9216, "large"), (20735, "large"), (20736, "huge"), (50176, "huge")])
def test_size_bins_half_open(area, name):
    assert size_bin(area) == name


from hypothesis import given, settings
from hypothesis import strategies as st

_coord = st.integers(min_value=0, max_value=224)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_coord, _coord, _coord, _coord), max_size=6), st.sampled_from(["union", "consensus"]))
def test_vectorized_map_equals_slice_by_slice_reference(boxes, rule):
    ref = np.zeros((224, 224))
    for x0, y0, x1, y1 in boxes:
        ref[y0:y1, x0:x1] += 1  # numpy slices are the half-open definition (empty when max <= min)
    ref = (ref > 0).astype(float) if rule == "union" else np.minimum(ref / 2, 1)
    np.testing.assert_array_equal(boxes_to_map(np.array(boxes, dtype=np.int64).reshape(-1, 4), rule), ref)
