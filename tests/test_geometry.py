"""Box geometry: values computed by hand."""

import numpy as np
import pytest

from metatrack.errors import DataError
from metatrack.geometry import (
    center_error,
    centers,
    check_first_box,
    clip_box,
    iou,
    iou_matrix,
    polygon_to_box,
    sample_boxes,
)


def test_iou_by_hand():
    # two 10x10 boxes overlapping on a 5x10 strip: 50 / 150
    assert iou([0, 0, 10, 10], [5, 0, 10, 10])[0] == pytest.approx(1 / 3)
    assert iou([0, 0, 10, 10], [0, 0, 10, 10])[0] == pytest.approx(1.0)
    assert iou([0, 0, 10, 10], [20, 20, 5, 5])[0] == 0.0
    # touching edges do not overlap
    assert iou([0, 0, 10, 10], [10, 0, 10, 10])[0] == 0.0
    # a box inside another: 4 / 100
    assert iou([0, 0, 10, 10], [2, 2, 2, 2])[0] == pytest.approx(0.04)


def test_iou_is_row_wise_and_nan_propagates():
    a = np.array([[0, 0, 10, 10], [0, 0, 4, 4]])
    b = np.array([[0, 0, 10, 10], [2, 0, 4, 4]])
    assert iou(a, b) == pytest.approx([1.0, 8 / 24])
    assert np.isnan(iou([np.nan, 0, 1, 1], [0, 0, 1, 1])[0])
    m = iou_matrix(a, b)
    assert m.shape == (2, 2) and m[0, 1] == pytest.approx(16 / 100)


def test_centres_follow_got10k_convention():
    assert centers([10, 20, 5, 7]).tolist() == [[12.0, 23.0]]
    assert center_error([0, 0, 4, 4], [3, 4, 4, 4])[0] == pytest.approx(5.0)


def test_polygon_to_box_keeps_centre_and_area():
    # an axis-aligned rectangle stays itself
    assert polygon_to_box([1, 2, 5, 2, 5, 8, 1, 8]) == pytest.approx([1, 2, 4, 6])
    # a square of side 10 rotated by 45 degrees around (50, 50): area 100, bounding rect 14.14^2
    r = 10 / np.sqrt(2)
    poly = [50, 50 - r, 50 + r, 50, 50, 50 + r, 50 - r, 50]
    box = polygon_to_box(poly)
    assert box[2] * box[3] == pytest.approx(100.0)
    assert box[0] + box[2] / 2 == pytest.approx(50) and box[1] + box[3] / 2 == pytest.approx(50)


def test_clip_box_always_inside_image():
    assert clip_box([-5, -5, 20, 20], (100, 50)).tolist() == [0, 0, 15, 15]
    assert clip_box([90, 40, 50, 50], (100, 50)).tolist() == [90, 40, 10, 10]
    # wholly outside: a min-size box at the border
    b = clip_box([500, 500, 10, 10], (100, 50))
    assert b[0] + b[2] <= 100 and b[1] + b[3] <= 50 and b[2] >= 1 and b[3] >= 1
    # NaN: a box in the middle of the image
    b = clip_box([np.nan, 0, 1, 1], (100, 50))
    assert np.all(np.isfinite(b)) and b[0] + b[2] <= 100


@pytest.mark.parametrize(
    "box, msg",
    [([0, 0, 0, 10], "zero or negative size"), ([np.nan, 0, 5, 5], "not finite"), ([200, 0, 5, 5], "outside")],
)
def test_bad_first_box_is_named(box, msg):
    with pytest.raises(DataError, match=msg) as info:
        check_first_box(box, (100, 100), source="gt.txt")
    assert "gt.txt" in str(info.value)


@pytest.mark.parametrize("kind", ["gaussian", "uniform", "whole"])
def test_sampling_respects_iou_range_and_image(kind):
    rng = np.random.default_rng(0)
    box = np.array([100, 80, 40, 30])
    lo, hi = (0.7, 1.0) if kind == "gaussian" else (0.0, 0.5)
    s = sample_boxes(box, 50, kind, (320, 240), trans=1.0 if kind != "gaussian" else 0.1,
                     scale=1.3, iou_range=(lo, hi), rng=rng)
    assert len(s) == 50
    r = iou(s, np.tile(box, (len(s), 1)))
    assert np.all((r >= lo) & (r <= hi))
    assert np.all(s[:, 0] >= 0) and np.all(s[:, 1] >= 0)
    assert np.all(s[:, 0] + s[:, 2] <= 320) and np.all(s[:, 1] + s[:, 3] <= 240)


def test_sampling_is_seeded():
    a = sample_boxes([10, 10, 20, 20], 8, "uniform", (100, 100), trans=1, scale=1.2, rng=np.random.default_rng(3))
    b = sample_boxes([10, 10, 20, 20], 8, "uniform", (100, 100), trans=1, scale=1.2, rng=np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_gaussian_samples_spread_with_trans():
    rng = np.random.default_rng(1)
    near = sample_boxes([100, 100, 40, 40], 200, "gaussian", (400, 400), trans=0.1, scale=1.0, rng=rng)
    far = sample_boxes([100, 100, 40, 40], 200, "gaussian", (400, 400), trans=0.6, scale=1.0, rng=rng)
    assert np.std(far[:, 0]) > 3 * np.std(near[:, 0])


def test_resized_box_keeps_the_centre():
    from metatrack.geometry import resized_box

    np.testing.assert_allclose(resized_box([10, 20, 30, 40], [10, 60]), [20, 10, 10, 60])
    np.testing.assert_array_equal(resized_box(np.array([[0.0, 0.0, 4.0, 4.0]]), (4, 4)), [[0, 0, 4, 4]])  # (N, 4) in


def test_resized_box_takes_many_boxes_with_one_size_or_one_each():
    from metatrack.geometry import resized_box

    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [10.0, 20.0, 4.0, 8.0]])
    np.testing.assert_allclose(resized_box(boxes, (2, 2)), [[4, 4, 2, 2], [11, 23, 2, 2]])
    np.testing.assert_allclose(resized_box(boxes, [[20, 10], [4, 8]]), [[-5, 0, 20, 10], [10, 20, 4, 8]])
