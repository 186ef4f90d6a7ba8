"""Text detection: DB post-processing on hand-made maps, the PP-OCRv4 and PP-OCRv6 backends on a small page, metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import font_named
from pagekit import small_page
from thaiocr.det import detector as detect
from thaiocr.det.detector import (
    DEFAULT_DETECTOR,
    DETECTORS,
    HALF,
    DBSettings,
    component_outlines,
    convex_hull,
    db_boxes,
    db_input,
    db_input_size,
    dilate2x2,
    load_detector,
    min_area_rect,
    order_corners,
    ppocrv4_model_path,
    ppocrv6_model_path,
    rect_sides,
    unclip,
)
from thaiocr.det.metrics import (
    DetectionCounts,
    detection_counts,
    fast_edit_distance,
    match_boxes,
    page_edits,
    quad_iou,
)
from thaiocr.errors import ThaiOCRError
from thaiocr.evaluate import edit_distance


def _quad(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)


def _map_with(*polygons: list[tuple[float, float]], size: tuple[int, int] = (200, 120)) -> np.ndarray:
    """A probability map: 0.9 inside the polygons, 0.05 elsewhere."""
    mask = Image.new("L", size, 0)
    for polygon in polygons:
        ImageDraw.Draw(mask).polygon(polygon, fill=1)
    return np.where(np.asarray(mask, dtype=bool), 0.9, 0.05).astype(np.float32)


# --- post-processing ----------------------------------------------------------------------------


def test_two_blobs_give_two_boxes():
    prob = _map_with([(10, 10), (90, 10), (90, 29), (10, 29)], [(110, 60), (180, 60), (180, 75), (110, 75)])
    boxes = sorted(db_boxes(prob, DBSettings(unclip_ratio=0.0)), key=lambda box: box[0][0, 0])
    assert len(boxes) == 2
    (first, first_score), (second, _) = boxes
    np.testing.assert_allclose(first, _quad(10, 10, 90, 29), atol=0.01)
    np.testing.assert_allclose(second, _quad(110, 60, 180, 75), atol=0.01)
    assert first_score == pytest.approx(0.9)


def test_low_scores_and_specks_are_dropped():
    prob = _map_with([(10, 10), (90, 10), (90, 29), (10, 29)], [(150, 80), (151, 80), (151, 81), (150, 81)])
    prob[10:30, 10:91] = 0.4  # above thresh, below box_thresh
    assert db_boxes(prob) == []


def test_unclip_grows_by_the_db_offset():
    rect = _quad(0, 0, 100, 20)
    distance = 100 * 20 * 1.5 / (2 * (100 + 20))  # area * ratio / perimeter = 12.5
    np.testing.assert_allclose(unclip(rect, 1.5), _quad(-distance, -distance, 100 + distance, 20 + distance), atol=1e-4)


def test_default_settings_unclip_every_box():
    prob = _map_with([(20, 40), (120, 40), (120, 59), (20, 59)])
    (quad, _), = db_boxes(prob)
    width, height = rect_sides(quad)
    grown = 100 * 19 * 1.5 / (2 * (100 + 19))
    assert width == pytest.approx(100 + 2 * grown, abs=0.01) and height == pytest.approx(19 + 2 * grown, abs=0.01)


def test_tilted_blob_gives_tilted_quad():
    angle = math.radians(20)
    along, across = np.array([math.cos(angle), math.sin(angle)]), np.array([-math.sin(angle), math.cos(angle)])
    unit_square = ((0, 0), (1, 0), (1, 1), (0, 1))
    corners = [tuple(np.array([30, 30]) + a * along * 120 + b * across * 16) for a, b in unit_square]
    (quad, _), = db_boxes(_map_with(corners), DBSettings(unclip_ratio=0.0))
    top_edge = quad[1] - quad[0]
    assert math.degrees(math.atan2(top_edge[1], top_edge[0])) == pytest.approx(20, abs=1.5)
    width, height = rect_sides(quad)
    assert width == pytest.approx(120, abs=2) and height == pytest.approx(16, abs=2)


def test_components_are_8_connected_and_follow_winding_shapes():
    mask = np.zeros((12, 12), dtype=bool)
    mask[1, 1] = mask[2, 2] = True  # diagonal neighbours: one component
    mask[5:11, 5] = mask[10, 5:11] = mask[5:11, 10] = mask[5, 7:11] = True  # a hook: joined only far down
    mask[5:8, 7] = True
    outlines = component_outlines(mask)
    assert len(outlines) == 2
    assert {len(o) for o in outlines} == {2 * 2, 2 * 6}  # first and last pixel of each row


def test_min_area_rect_of_a_box_is_the_box():
    points = np.array([[0, 0], [10, 0], [10, 4], [0, 4], [5, 2], [3, 1]], dtype=np.float32)
    hull = convex_hull(points)
    assert len(hull) == 4
    rect = order_corners(min_area_rect(hull))
    np.testing.assert_allclose(rect, _quad(0, 0, 10, 4), atol=1e-5)


def test_order_corners_starts_top_left_clockwise():
    shuffled = _quad(5, 1, 9, 3)[[2, 0, 3, 1]]
    np.testing.assert_array_equal(order_corners(shuffled), _quad(5, 1, 9, 3))


def test_input_sides_are_multiples_of_32_within_the_limit():
    assert db_input_size(1240, 1754, 960) == (672, 960)
    assert db_input_size(100, 50, 960) == (96, 64)
    assert db_input(Image.new("RGB", (100, 50)), 960).shape == (1, 3, 64, 96)


# --- the PP-OCRv4 backend -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    return load_detector("ppocrv4")


def test_ppocrv4_finds_the_lines_of_a_small_page(detector, fonts):
    image, boxes = small_page(font_named(fonts, "Garuda").path)
    regions = detector(image)
    truth = [np.array(box.points, dtype=np.float32) for box in boxes]
    counts = detection_counts([r.quad for r in regions], truth)
    assert counts.recall == 1.0 and counts.precision == 1.0
    assert all(0.6 < r.score <= 1 for r in regions)


def test_missing_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(detect.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ThaiOCRError, match="pip install --no-deps rapidocr-onnxruntime"):
        ppocrv4_model_path()


# --- the PP-OCRv6 backend -----------------------------------------------------------------------


def test_dilation_is_opencvs_2x2():
    mask = np.zeros((5, 6), dtype=bool)
    mask[1, 2] = mask[4, 5] = True
    grown = dilate2x2(mask)
    assert set(zip(*np.nonzero(grown), strict=True)) == {(1, 2), (1, 3), (2, 2), (2, 3), (4, 5)}
    assert not dilate2x2(np.zeros((3, 3), dtype=bool)).any()


def test_dilation_joins_a_one_pixel_gap():
    prob = _map_with([(10, 10), (50, 10), (50, 29), (10, 29)], [(52, 10), (90, 10), (90, 29), (52, 29)])
    prob[:, 51] = 0.05  # the two halves of a word a map pixel apart
    assert len(db_boxes(prob, DBSettings(unclip_ratio=0.0))) == 2
    assert len(db_boxes(prob, DBSettings(unclip_ratio=0.0, use_dilation=True))) == 1


def test_rapidocr_normalisation_maps_white_to_one_and_black_to_minus_one():
    image = Image.new("RGB", (64, 32), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 32, 32))
    batch = db_input(image, 960, HALF, HALF)
    assert batch.shape == (1, 3, 32, 64)
    np.testing.assert_allclose(batch[0, :, :, :32], -1.0)
    np.testing.assert_allclose(batch[0, :, :, 32:], 1.0)


@pytest.fixture(scope="module")
def detector_v6():
    return load_detector("ppocrv6")


def test_ppocrv6_is_read_from_the_installed_rapidocr_wheel(detector_v6):
    assert ppocrv6_model_path().name == "PP-OCRv6_det_small.onnx"
    assert ppocrv6_model_path().parent.parent.name == "rapidocr"
    assert detector_v6.name == "ppocrv6"
    assert detector_v6.settings.box_thresh == 0.5 and detector_v6.settings.limit_side_len == 960
    np.testing.assert_array_equal(detector_v6.mean, HALF)


def test_ppocrv6_finds_the_lines_of_a_small_page(detector_v6, fonts):
    image, boxes = small_page(font_named(fonts, "Garuda").path)
    prob = detector_v6.probability_map(image)
    assert prob.shape == (384, 640) and prob.min() >= 0.0 and prob.max() <= 1.0  # a probability, not logits
    regions = detector_v6(image)
    truth = [np.array(box.points, dtype=np.float32) for box in boxes]
    counts = detection_counts([r.quad for r in regions], truth)
    assert counts.recall == 1.0
    assert all(0.5 <= r.score <= 1 for r in regions)


def test_missing_rapidocr_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(detect.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ThaiOCRError, match=r"pip install --no-deps rapidocr==3\.10"):
        ppocrv6_model_path()


def test_the_default_detector_is_one_of_the_detectors():
    assert DEFAULT_DETECTOR in DETECTORS
    assert load_detector().name == DEFAULT_DETECTOR


def test_unknown_detector_lists_the_known_ones():
    with pytest.raises(ThaiOCRError, match="ppocrv4.*ppocrv6|ppocrv6.*ppocrv4"):
        load_detector("ppocrv5")


# --- metrics ------------------------------------------------------------------------------------


def test_quad_iou():
    assert quad_iou(_quad(0, 0, 10, 10), _quad(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert quad_iou(_quad(0, 0, 10, 10), _quad(0, 0, 10, 10)[::-1]) == pytest.approx(1.0)
    assert quad_iou(_quad(0, 0, 10, 10), _quad(20, 0, 30, 10)) == 0.0
    diamond = np.array([[5, 0], [10, 5], [5, 10], [0, 5]], dtype=np.float32)
    assert quad_iou(_quad(0, 0, 10, 10), diamond) == pytest.approx(0.5)


def test_precision_recall_hmean_on_hand_made_boxes():
    truth = [_quad(0, 0, 100, 20), _quad(0, 40, 100, 60), _quad(0, 80, 100, 100)]
    predicted = [_quad(2, 1, 98, 21), _quad(0, 40, 40, 60), _quad(300, 0, 320, 10)]  # hit, too small, false
    assert match_boxes(predicted, truth)[0][:2] == (0, 0)
    counts = detection_counts(predicted, truth)
    assert (counts.precision, counts.recall) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    total = counts + DetectionCounts(predicted=1, truth=1, matched=1)
    assert total.hmean == pytest.approx(0.5)
    assert DetectionCounts().hmean == 0.0


def test_one_prediction_matches_one_label():
    truth = [_quad(0, 0, 100, 20), _quad(0, 0, 100, 20)]
    assert detection_counts([_quad(0, 0, 100, 20)], truth).matched == 1


def test_fast_edit_distance_agrees_with_the_line_metric():
    rng = np.random.default_rng(0)
    for _ in range(50):
        a = "".join(rng.choice(list("กขค 12")) for _ in range(rng.integers(0, 12)))
        b = "".join(rng.choice(list("กขค 12")) for _ in range(rng.integers(0, 12)))
        assert fast_edit_distance(a, b) == edit_distance(a, b)


def test_page_edits_ignore_the_kind_of_white_space():
    assert page_edits("ก ข\tค\nง", "ก ข ค ง") == (0, 7)
    assert page_edits("ค ง", "ก ข") == (2, 3)
