"""Page OCR: crops, long lines, the orientation rule, PageReader and `thaiocr ocr` (reading order: test_layout.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import font_named
from pagekit import StubRecognizer, scripted_recognizer, small_page, top_heavy
from thaiocr.det.detector import TextRegion, load_detector
from thaiocr.page import (
    PageReader,
    PageResult,
    crop_line,
    draw_result,
    read_crops,
    straighten,
)


def _quad(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)


def _bar(height: int = 40, ink_rows: slice = slice(0, 20)) -> Image.Image:
    """A 200 px wide crop with its ink in ``ink_rows``."""
    image = Image.new("RGB", (200, height), (255, 255, 255))
    pixels = np.asarray(image).copy()
    pixels[ink_rows, 20:180] = 0
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def page(fonts):
    return small_page(font_named(fonts, "Garuda").path)


@pytest.fixture(scope="module")
def page_file(page, tmp_path_factory):
    path = tmp_path_factory.mktemp("page") / "page.png"
    page[0].save(path)
    return path


# --- crops and long lines -----------------------------------------------------------------------


def test_straighten_pads_an_axis_aligned_box():
    image = Image.fromarray(np.arange(200 * 100 * 3, dtype=np.uint32).reshape(100, 200, 3).astype(np.uint8))
    region = straighten(image, _quad(20, 30, 120, 50), pad_y=0.25, pad_x=0.2)
    assert region.size == (108, 30)
    np.testing.assert_allclose(np.asarray(region, dtype=float), np.asarray(image.crop((16, 25, 124, 55)), dtype=float),
                               atol=2)


def test_straighten_turns_a_tilted_line_upright():
    image = Image.new("RGB", (300, 200), (255, 255, 255))
    quad = np.array([[50, 100], [230, 40], [236, 58], [56, 118]], dtype=np.float32)  # about 18 degrees up
    ImageDraw.Draw(image).polygon([tuple(p) for p in quad], fill=(0, 0, 0))
    region = np.asarray(straighten(image, quad, pad_y=0.5, pad_x=0.0).convert("L"), dtype=float)
    middle, band = region[region.shape[0] // 2 - 3 : region.shape[0] // 2 + 3], region[: region.shape[0] // 5]
    assert region.shape[1] > 3 * region.shape[0]
    assert middle.mean() < 40 and band.mean() > 200  # ink along the middle, paper above


def _line_with(*rectangles: tuple[int, int, int, int]) -> Image.Image:
    image = Image.new("RGB", (300, 160), (255, 255, 255))
    for rectangle in rectangles:
        ImageDraw.Draw(image).rectangle(rectangle, fill=(0, 0, 0))
    return image


BOX = _quad(20, 60, 280, 100)  # 40 px high; the body of the line below fills rows 62-97


def test_crop_line_keeps_a_mark_above_the_box():
    crop = crop_line(_line_with((30, 62, 270, 97), (100, 50, 106, 58)), BOX)  # a mark 2-10 px above
    assert crop.height == 40 + 10


def test_crop_line_leaves_out_a_line_further_away():
    crop = crop_line(_line_with((30, 62, 270, 97), (30, 40, 270, 52)), BOX)  # 8 px of paper: over 0.1 heights
    assert crop.height == 40


def test_crop_line_stops_at_a_table_rule():
    crop = crop_line(_line_with((30, 62, 270, 97), (20, 58, 280, 59), (100, 50, 106, 56)), BOX)
    assert crop.height == 40


# --- the orientation rule -----------------------------------------------------------------------


def _upright_when_top_heavy(crop: Image.Image) -> tuple[str, float]:
    return ("up", 0.95) if top_heavy(crop) else ("down", 0.3)


def test_doubtful_lines_are_read_again_turned():
    recognizer = StubRecognizer(_upright_when_top_heavy)
    readings = read_crops(recognizer, [_bar(ink_rows=slice(0, 20)), _bar(ink_rows=slice(20, 40))])
    assert [(p.text, turned) for p, turned in readings] == [("up", False), ("up", True)]
    assert recognizer.batches == [2, 1]  # all lines in one call, then only the doubtful one


def test_a_turned_reading_must_be_more_confident():
    recognizer = StubRecognizer(lambda crop: ("x", 0.5 if top_heavy(crop) else 0.4))
    readings = read_crops(recognizer, [_bar(ink_rows=slice(0, 20))])
    assert [(p.text, p.confidence, turned) for p, turned in readings] == [("x", 0.5, False)]


def test_an_upside_down_line_keeps_its_text_order_in_the_polygon():
    image = Image.new("RGB", (300, 100), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((20, 40, 280, 59), fill=(0, 0, 0))  # ink in the lower half of the box

    def detector(_image):
        return [TextRegion(_quad(20, 20, 280, 60), 0.9)]

    result = PageReader(detector, StubRecognizer(_upright_when_top_heavy))(image)
    (line,) = result.lines
    assert line.text == "up" and line.confidence == 0.95
    assert line.polygon[0] == [280.0, 60.0]  # the text's top-left is the page's bottom-right


# --- the page reader ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    return load_detector("ppocrv4")


def test_page_reader_reads_every_line_in_one_batch(page, detector):
    image, boxes = page
    calls: list[int] = []
    result = PageReader(detector, scripted_recognizer("7", calls=calls))(image)
    assert [line.text for line in result.lines] == ["7"] * len(boxes)
    assert result.text == "7\n7\n7"
    assert calls == [len(boxes)]
    tops = [min(y for _, y in line.polygon) for line in result.lines]
    assert tops == sorted(tops)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["width"] == 640 and len(payload["lines"][0]["polygon"]) == 4
    assert set(payload["lines"][0]) == {"polygon", "text", "confidence"}
    assert [(b["kind"], b["column"], b["text"]) for b in payload["blocks"]] == [("paragraph", 0, "7\n7\n7")]
    assert payload["blocks"][0]["lines"] == payload["lines"]


def test_boxes_only_detects_without_reading(page):
    result = PageReader.from_paths(boxes_only=True)(page[0])
    assert len(result.lines) == 3 and result.text == ""
    assert all(line.text == "" and 0.6 < line.confidence <= 1 for line in result.lines)


def test_draw_result_writes_boxes_and_thai_text(page):
    image, boxes = page
    lines = PageReader(lambda _image: [TextRegion(np.array(b.points, dtype=np.float32), 0.9) for b in boxes],
                       scripted_recognizer("12"))(image).lines
    drawn = draw_result(image, PageResult.arranged(lines, image.width, image.height))
    assert drawn.size == image.size
    assert np.abs(np.asarray(drawn, dtype=int) - np.asarray(image, dtype=int)).sum() > 0


def test_unknown_detector_is_a_clear_error(tmp_path):
    from thaiocr.errors import ThaiOCRError

    with pytest.raises(ThaiOCRError, match="unknown detector 'east'"):
        PageReader.from_paths(detector="east")
    with pytest.raises(ThaiOCRError, match="detector model not found"):
        PageReader.from_paths(detector=tmp_path / "db.onnx")


# --- thaiocr ocr --------------------------------------------------------------------------------


def test_cli_ocr_json_and_draw(run_cli, page_file, tmp_path):
    code, out, _ = run_cli("ocr", page_file, "--boxes-only", "--json", "--draw", tmp_path / "boxes.png")
    assert code == 0
    payload = json.loads(out)
    assert len(payload["lines"]) == 3
    assert all(len(line["polygon"]) == 4 for line in payload["lines"])
    with Image.open(tmp_path / "boxes.png") as drawn:
        assert drawn.size == (640, 400)


def test_cli_ocr_prints_the_text_in_reading_order(run_cli, page_file, detector, monkeypatch):
    asked = {}
    loaded = detector

    def from_paths(**kwargs):
        asked.update(kwargs)
        return PageReader(loaded, scripted_recognizer("5"))

    monkeypatch.setattr(PageReader, "from_paths", from_paths)
    code, out, _ = run_cli("ocr", page_file, "--model", "some/model.onnx")
    assert code == 0 and out == "5\n5\n5\n"
    assert asked == {"model": Path("some/model.onnx"), "detector": "ppocrv4", "boxes_only": False, "decoder": "auto",
                     "reread": True}
    code, _, _ = run_cli("ocr", page_file, "--model", "some/model.onnx", "--read-once")
    assert code == 0 and asked["reread"] is False


def test_cli_ocr_missing_model_is_a_clear_error(run_cli, page_file, tmp_path):
    code, _, err = run_cli("ocr", page_file, "--model", tmp_path / "nope.onnx")
    assert code == 2 and "nope.onnx: model not found" in err


def test_cli_ocr_bad_input_names_the_file(run_cli, tmp_path):
    code, _, err = run_cli("ocr", tmp_path / "missing.png")
    assert code == 1 and "missing.png: image file not found" in err
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = run_cli("ocr", corrupt)
    assert code == 1 and "corrupt.png: not a readable image" in err


def test_cli_ocr_draw_needs_an_image_suffix(run_cli, page_file, tmp_path):
    code, _, err = run_cli("ocr", page_file, "--draw", tmp_path / "boxes.xyz")
    assert code == 2 and "boxes.xyz: unknown image format" in err
