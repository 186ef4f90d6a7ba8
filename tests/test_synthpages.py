"""Synthetic pages: deterministic, boxes that hold every inked pixel, PaddleOCR det labels."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image

from conftest import font_named
from thaiocr.charset import builtin_dict_chars, is_combining
from thaiocr.det.labels import read_det_labels
from thaiocr.errors import ThaiOCRError
from thaiocr.synth.lines import PREFERRED_VAL_FAMILIES
from thaiocr.synth.pages import (
    BOX_PAD,
    LABEL_FILE,
    PageMaker,
    draw_text,
    fit_text,
    generate_pages,
    raqm_face,
    text_box,
)
from thaiocr.synth.render import text_clusters

SMALL = (640, 480)


@pytest.fixture(scope="module")
def pages(tmp_path_factory, fonts):
    folder = tmp_path_factory.mktemp("pages")
    manifest = generate_pages(folder, 2, seed=3, fonts=fonts, font_split="all", size=SMALL, progress=False)
    return folder, manifest


def test_pages_are_written_in_paddleocr_det_format(pages):
    folder, manifest = pages
    rows = (folder / LABEL_FILE).read_text(encoding="utf-8").splitlines()
    assert len(rows) == manifest["count"] == 2
    path, labels = rows[0].split("\t")
    assert path == "images/000001.png"
    entries = json.loads(labels)
    assert entries and set(entries[0]) == {"transcription", "points"}
    assert all(len(entry["points"]) == 4 and entry["transcription"] for entry in entries)
    with Image.open(folder / path) as image:
        assert image.size == SMALL


def test_every_box_lies_on_the_page(pages):
    folder, _ = pages
    for _, boxes in read_det_labels(folder / LABEL_FILE):
        points = np.array([b.points for b in boxes])
        assert points.min() >= 0
        assert (points[..., 0] <= SMALL[0]).all() and (points[..., 1] <= SMALL[1]).all()


def test_same_seed_same_pages(pages, tmp_path, fonts):
    folder, _ = pages
    generate_pages(tmp_path, 2, seed=3, fonts=fonts, font_split="all", size=SMALL, progress=False)
    assert (tmp_path / LABEL_FILE).read_bytes() == (folder / LABEL_FILE).read_bytes()
    assert (tmp_path / "images/000002.png").read_bytes() == (folder / "images/000002.png").read_bytes()


def test_pages_hold_tables_receipts_and_upside_down_lines(fonts):
    maker = PageMaker(fonts, size=(1240, 1754))
    pages = [maker.make(random.Random(seed)) for seed in range(3)]
    boxes = [box for page in pages for box in page.boxes]
    heights = {box.points[2][1] - box.points[0][1] for box in boxes if not box.upside_down}
    assert len(boxes) > 60
    assert any(box.upside_down for box in boxes)
    assert max(heights) > 1.4 * min(heights)  # headings and body text


def _drawn(face, text: str, upside_down: bool = False):
    image = Image.new("RGB", (400, 160), (255, 255, 255))
    ink = draw_text(image, text, face, (20, 40), (0, 0, 0), upside_down)
    return image, text_box(text, ink, upside_down, image.size)


def test_box_holds_all_ink_of_stacked_marks(fonts):
    face = raqm_face(font_named(fonts, "Garuda").path, 40)
    for upside_down in (False, True):
        image, box = _drawn(face, "ปู่ปิ๊กฎีญ", upside_down)
        left, top = np.min(box.points, axis=0)
        right, bottom = np.max(box.points, axis=0)
        dark = np.asarray(image.convert("L")) < 250
        assert dark.sum() > 0
        assert not dark[:top].any() and not dark[bottom:].any()
        assert not dark[:, :left].any() and not dark[:, right:].any()
        assert box.upside_down == upside_down
    marked, bare = (_drawn(face, text)[1] for text in ("กู่กิ๊ก", "กกก"))
    marked_height, bare_height = (b.points[2][1] - b.points[0][1] for b in (marked, bare))
    assert marked_height > 1.5 * bare_height  # the box grew to the marks above and the vowel below


def test_upside_down_box_starts_at_the_bottom_right():
    box = text_box("ก", (10, 20, 50, 40), True, (100, 100))
    assert box.points == ((50 + BOX_PAD, 40 + BOX_PAD), (10 - BOX_PAD, 40 + BOX_PAD),
                          (10 - BOX_PAD, 20 - BOX_PAD), (50 + BOX_PAD, 20 - BOX_PAD))
    assert box.upside_down


def test_fit_text_cuts_between_clusters(fonts):
    face = raqm_face(font_named(fonts, "Garuda").path, 30)
    text = "ที่นี่มีน้ำใจ" * 5
    fitted = fit_text(text, face, 200)
    clusters = text_clusters(text)
    assert face.getlength(fitted) <= 200 < face.getlength(text)
    assert fitted in {"".join(clusters[:k]) for k in range(1, len(clusters))}
    assert not is_combining(text[len(fitted)])


def test_number_pages_hold_only_digits_dict_characters(tmp_path, fonts):
    generate_pages(tmp_path, 1, seed=1, fonts=fonts, font_split="all", content="numbers", size=SMALL,
                   progress=False)
    allowed = set(builtin_dict_chars("digits")) | {" "}
    (_, boxes), = read_det_labels(tmp_path / LABEL_FILE)
    assert boxes and all(set(box.text) <= allowed for box in boxes)


def test_held_out_pages_use_only_held_out_families(tmp_path, fonts):
    manifest = generate_pages(tmp_path, 1, fonts=fonts, font_split="val", size=SMALL, progress=False)
    assert {name.split("-")[0] for name in manifest["fonts"]} <= set(PREFERRED_VAL_FAMILIES)


def test_bad_requests_fail_clearly(tmp_path, fonts):
    with pytest.raises(ThaiOCRError, match="content"):
        PageMaker(fonts, content="poems")
    with pytest.raises(ThaiOCRError, match="font split"):
        generate_pages(tmp_path, 1, fonts=fonts, font_split="test")
    with pytest.raises(ThaiOCRError, match="label file not found"):
        read_det_labels(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("images/1.png\tnot json\n", encoding="utf-8")
    with pytest.raises(ThaiOCRError, match="bad.txt:1"):
        read_det_labels(tmp_path / "bad.txt")


def test_cli_synth_pages(run_cli, tmp_path):
    code, out, _ = run_cli("-q", "synth", "pages", tmp_path / "pages", "--count", "1", "--seed", "4")
    assert code == 0 and "1 pages" in out
    manifest = json.loads((tmp_path / "pages" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["size"] == [1240, 1754] and manifest["font_split"] == "train"
    assert len(read_det_labels(tmp_path / "pages" / LABEL_FILE)) == 1
