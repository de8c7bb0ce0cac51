"""Issue 23, item 4: figures a reader can trust (docs/report.md, "Overlays" and the maxima figure).

* an overlay's titles describe the arrays drawn below them (the case of the issue: a title said
  raw max 0.9923 over a row showing 0 % above 0.9696, because the title read the raw 7 x 7 map and
  the row its upsampled 224 x 224 map, whose maximum is lower);
* the thresholded row shows what the clean protocol thresholds: its fractions are the per-sample
  pIA and its IoU the ``iou_adap`` of the protocol's own records, so the row is never nearly empty
  for the positive map (it selects the ground truth's area);
* overlays draw the ground-truth boxes and a colour bar per sample;
* every panel of ``maxima.png`` shares one y-axis, so constant baselines do not look different.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from vssleval.metrics.protocols.vssleval import sample_records
from vssleval.report import figures
from vssleval.report.overlays import overlay_figure, overlay_panels
from vssleval.report.runs import RunRecord


def _peaked(k: int, seed: int) -> np.ndarray:
    """``k`` raw 7 x 7 maps with one sharp peak each (values in [0, 1))."""
    rng = np.random.default_rng(seed)
    maps = rng.uniform(0.1, 0.6, (k, 7, 7)).astype(np.float32)
    for i in range(k):
        maps[i, 1 + i % 5, 2 + i % 4] = 0.9923
    return maps


def _gt(k: int) -> np.ndarray:
    gt = np.zeros((k, 224, 224), np.float32)
    for i in range(k):
        gt[i, 40 + 10 * i:140 + 10 * i, 60:180] = 1.0
    return gt


def _numbers(head: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", head)]


def test_titles_describe_the_drawn_array_in_the_issues_case():
    """Raw max 0.9923 above a universal threshold of 0.9696 that the upsampled map never reaches:
    the title gives the drawn map's maximum (below 0.9696) and the raw one beside it, and the row's
    0 % agrees with it."""
    raw = np.full((1, 7, 7), 0.1, np.float32)
    raw[0, 3, 3] = 0.9923  # a lone peak: between the 224 px centres the interpolation never reaches it
    (p,) = overlay_panels({"positive": raw}, ["s"], "bilinear", threshold=0.9696)
    drawn = p.shown["positive"]
    assert float(raw.max()) == pytest.approx(0.9923, abs=1e-6) and float(drawn.max()) < 0.9696  # the issue's numbers
    raw_heads, cut_heads = p.heads()
    top, raw_top = _numbers(raw_heads[1])
    assert top == pytest.approx(float(drawn.max()), abs=5e-5) and raw_top == pytest.approx(0.9923, abs=1e-6)
    assert cut_heads[1].startswith("> 0.9696: 0.0 %") and p.above["positive"] == 0.0
    # maps stored resized (docs/models.md §2.8): the raw maximum is the recorded one
    (q,) = overlay_panels({"positive": raw}, ["s"], "bilinear", threshold=0.9696, raw_max={"positive": np.array([1.25])})
    assert q.heads()[0][1].endswith("(raw 1.25)")


def test_thresholded_row_is_the_protocols_adaptive_rule():
    """Fractions and IoU in the titles equal the clean protocol's per-sample records of the same
    maps (pIA under the adaptive threshold, iou_adap), with a flat positive map among them."""
    k = 4
    maps = {"positive": _peaked(k, 1), "silence": _peaked(k, 2) * 0.5, "noise": _peaked(k, 3)}
    maps["positive"][3] = 0.25  # flat: selects every pixel (docs/protocols.md §8.3)
    gt = _gt(k)
    rec = sample_records(maps, gt, {}, "bilinear")
    panels = overlay_panels(maps, [f"s{i}" for i in range(k)], "bilinear", gt=gt)
    for i, p in enumerate(panels):
        for v in ("silence", "noise"):
            assert p.above[v] == pytest.approx(rec[f"pia_{v}_adap"][i], abs=1e-12), (i, v)
        assert p.iou == pytest.approx(rec["iou_adap"][i], abs=1e-12)
        _, cut = p.heads()
        assert f"{p.above['silence'] * 100:.1f} %" in cut[2]
    # the positive row selects the ground truth's area (g - 1 pixels without ties), not a speck
    g = (gt[0] != 0).sum()
    assert panels[0].above["positive"] == pytest.approx((g - 1) / 224 ** 2)
    assert panels[3].threshold == -np.inf and panels[3].above == {"positive": 1.0, "silence": 1.0, "noise": 1.0}
    assert "every pixel" in panels[3].heads()[1][0]


def test_overlay_draws_boxes_and_a_colour_bar_per_sample():
    k = 2
    maps = {"positive": _peaked(k, 4), "silence": _peaked(k, 5)}
    boxes = np.full((k, 2, 4), np.nan)
    boxes[:, 0] = [0.25, 0.2, 0.75, 0.6]
    boxes[1, 1] = [0.1, 0.1, 0.2, 0.3]  # a second box on the second sample
    images = [np.full((224, 224, 3), 128, np.uint8)] * k
    fig = overlay_figure(images, maps, None, ["a", "b"], "bilinear", gt=_gt(k), boxes=boxes)
    (grid,) = [ax for ax in fig.axes if ax.images]  # every row of cells on one axes, one image per row
    bars = [ax for ax in fig.axes if not ax.images]
    rows = grid.images
    assert len(rows) == 2 * k and len(bars) == k  # raw and thresholded rows; one colour bar per sample
    n_cells = 1 + len(maps)
    width = n_cells * 224 + (n_cells - 1) * 9  # the cells and the white gaps between them
    on_row = [[] for _ in rows]
    for box in grid.patches:  # each box is drawn on, and clipped to, one row's image
        assert isinstance(box, Rectangle)
        x0, x1, y0, y1 = (box.get_x(), box.get_x() + box.get_width(), box.get_y(), box.get_y() + box.get_height())
        (j,) = [j for j, im in enumerate(rows) if im.get_extent()[0] <= x0 < x1 <= im.get_extent()[1]
                and im.get_extent()[2] <= y0 < y1 <= im.get_extent()[3]]
        assert box.get_clip_box().bounds == pytest.approx(rows[j].get_window_extent().bounds)
        on_row[j].append(box)
    assert [len(b) for b in on_row] == [n_cells] * 2 + [2 * n_cells] * 2
    for im in rows:  # each row keeps its pixels' aspect: 224 px high, ``width`` px wide
        left, right, bottom, top = im.get_extent()
        assert im.get_array().shape[:2] == (224, width)
        assert (right - left) / (top - bottom) == pytest.approx(width / 224)
    left, right, bottom, top = rows[0].get_extent()
    px = (right - left) / width  # one pixel of the row, in the axes' units
    first = on_row[0][0]  # the first cell's box, in pixels of the cell from its top left corner
    assert ((first.get_x() - left) / px, (top - first.get_y() - first.get_height()) / px, first.get_width() / px
            ) == pytest.approx((0.25 * 224, 0.2 * 224, 112))
    panels = overlay_panels(maps, ["a", "b"], "bilinear", gt=_gt(k))
    for bar, p in zip(bars, panels):  # the bar spans the sample's colour scale
        assert bar.get_ylim() == pytest.approx((p.lo, p.hi))
    assert "adaptive threshold" in fig._suptitle.get_text()


# -- maxima.png ---------------------------------------------------------------------------------
def _run(name: str, baseline: bool, pos: np.ndarray, neg: np.ndarray) -> RunRecord:
    n = len(pos)
    cols = {"seed_index": np.zeros(n), "max_positive": pos, "max_silence": neg,
            "sample_id": np.array([str(i) for i in range(n)])}
    r = RunRecord(Path("/runs") / name, {"run": {"model_name": name, "baseline": baseline}}, cols)
    r.label = name
    return r


def test_maxima_panels_share_one_y_axis():
    """Two constant baselines, one float32 step apart, and a model: one y-axis for all panels, on
    which the baselines sit at the same height (before, their panel zoomed to a 1e-7 span)."""
    n = 20
    rng = np.random.default_rng(0)
    model = _run("ezvsl", False, rng.uniform(0.4, 0.9, n), rng.uniform(0.2, 0.5, n))
    one = np.ones(n)
    runs = [model, _run("center", True, one, one), _run("full", True, one * np.float32(0.99999994), one)]
    fig = figures.maxima_axes(runs, {})
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2
    limits = {tuple(round(x, 9) for x in ax.get_ylim()) for ax in axes}
    assert len(limits) == 1
    lo, hi = limits.pop()
    assert lo <= model.maxima("silence").min() and hi >= 1.0 and hi - lo > 0.5
    # baselines alone: a span of float32 rounding counts as none, the axis is not zoomed into it
    lo, hi = figures.maxima_limits(runs[1:])
    assert hi - lo == pytest.approx(0.1, rel=1e-6)


# -- save_figure -----------------------------------------------------------------------------------
def test_save_figure_lays_out_once_and_draws_the_pdf_once(tmp_path):
    """The PNG runs constrained layout (one measuring draw, then the drawing); the PDF keeps those
    axes positions and is drawn once, with no layout engine left to trigger a measuring draw."""
    fig = figures.new_figure(3, 2)
    ax = fig.add_subplot()
    ax.imshow(np.arange(600, dtype=np.uint8).reshape(20, 10, 3), interpolation="none")
    ax.set_title("a title that the layout makes room for")
    draws = []
    draw = fig.draw
    fig.draw = lambda renderer: (draws.append(type(renderer).__name__), draw(renderer))[1]
    png, pdf = figures.save_figure(fig, tmp_path / "f.png")
    assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:5] == b"%PDF-"
    assert draws[:2] == ["RendererAgg", "RendererAgg"] and len(draws) == 3 and draws[2] != "RendererAgg"
    assert fig.get_layout_engine() is None
