"""Searchable PDFs (thaiocr.searchpdf, `thaiocr ocr --pdf`): the page images with an invisible text
layer that a PDF reader extracts as what the OCR read, each line where it is on the page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from conftest import font_named
from pagekit import column_page, scripted_recognizer, table_page
from thaiocr.errors import ThaiOCRError
from thaiocr.page import PageLine, PageReader
from thaiocr.searchpdf import SearchablePdf, pdf_font_path


def _words(text: str) -> str:
    return "".join(text.split())


def _line(text: str, left: float, top: float, right: float, bottom: float, turned: bool = False) -> PageLine:
    corners = [[left, top], [right, top], [right, bottom], [left, bottom]]
    return PageLine(corners[2:] + corners[:2] if turned else corners, text, 0.9)


@pytest.fixture(scope="module")
def garuda(fonts) -> Path:
    return font_named(fonts, "Garuda").path


@pytest.fixture(scope="module")
def document(garuda, tmp_path_factory) -> Path:
    """A two-page Thai PDF at 100 dpi: a heading over two columns, and a ruled table."""
    path = tmp_path_factory.mktemp("pdf") / "doc.pdf"
    first, second = column_page(garuda, heading=True).image, table_page(garuda).image
    first.save(path, save_all=True, append_images=[second], resolution=100)
    return path


def test_each_line_is_invisible_text_on_its_box(tmp_path):
    image = Image.new("RGB", (600, 300), (255, 255, 255))
    lines = [_line("ผู้ใหญ่บ้านชี้ป้าย", 40, 40, 400, 80), _line("ราคา ๑,๒๕๐ บาท", 300, 200, 560, 240, turned=True)]
    with SearchablePdf() as pdf:
        pdf.add_page(image, lines, (288, 144))
        pdf.save(tmp_path / "out.pdf")
    with pdfium.PdfDocument(tmp_path / "out.pdf") as written:
        page = written[0]
        assert page.get_size() == pytest.approx((288, 144))
        text = page.get_textpage()
        assert _words(text.get_text_range()) == _words("".join(line.text for line in lines))
        for line, first in zip(lines, (0, len(lines[0].text) + 2), strict=True):  # pdfium puts \r\n between them
            xs, ys = [x * 72 / 150 for x, _ in line.polygon], [144 - y * 72 / 150 for _, y in line.polygon]
            left, bottom, right, top = text.get_charbox(first)
            assert min(xs) - 1 <= left <= right <= max(xs) + 1 and min(ys) - 1 <= bottom <= top <= max(ys) + 1
        rendered = np.asarray(page.render(scale=150 / 72).to_pil().convert("L"), dtype=float)
    assert rendered.min() > 240  # nothing drawn: the text is invisible on a white page


def test_a_page_without_text_is_only_its_image(tmp_path):
    with SearchablePdf() as pdf:
        pdf.add_page(Image.new("RGB", (200, 100), (90, 90, 90)), [_line("  ", 0, 0, 10, 10)], (200, 100))
        assert len(pdf) == 1
        pdf.save(tmp_path / "out.pdf")
    with pdfium.PdfDocument(tmp_path / "out.pdf") as written:
        assert written[0].get_size() == pytest.approx((200, 100)) and written[0].get_textpage().get_text_range() == ""


def test_without_a_thai_truetype_font_it_fails_clearly(monkeypatch):
    monkeypatch.setattr("thaiocr.synth.fonts.discover_fonts", lambda: [])
    with pytest.raises(ThaiOCRError, match=r"--pdf needs a TrueType \(.ttf\) font covering Thai"):
        pdf_font_path()


def test_the_font_is_a_thai_truetype_file():
    assert pdf_font_path().suffix == ".ttf"


def test_cli_ocr_pdf_writes_a_searchable_pdf_of_what_it_read(run_cli, document, tmp_path):
    out = tmp_path / "searchable.pdf"
    code, stdout, _ = run_cli("ocr", document, "--dpi", "100", "--json", "--pdf", out)
    records = [json.loads(line) for line in stdout.splitlines()]
    assert code == 0 and len(records) == 2
    with pdfium.PdfDocument(document) as source, pdfium.PdfDocument(out) as written:
        assert len(written) == 2
        for record, page, original in zip(records, written, source, strict=True):
            assert page.get_size() == pytest.approx(original.get_size())
            assert _words(page.get_textpage().get_text_range()) == _words(record["text"])
    assert "รายการ" in records[1]["text"]  # the OCR read Thai, which came back out of the PDF
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_cli_ocr_pdf_from_images_takes_their_resolution(run_cli, tmp_path, monkeypatch, garuda):
    from thaiocr.det.detector import load_detector

    detector = load_detector("ppocrv4")
    monkeypatch.setattr(PageReader, "from_paths", lambda **_: PageReader(detector, scripted_recognizer("12")))
    image = table_page(garuda).image
    image.save(tmp_path / "a.png", dpi=(150, 150))
    image.save(tmp_path / "b.png")  # states no resolution: 200 dpi
    out = tmp_path / "images.pdf"
    code, stdout, _ = run_cli("ocr", tmp_path / "a.png", tmp_path / "b.png", "--pdf", out)
    assert code == 0
    with pdfium.PdfDocument(out) as written:
        width, height = image.size  # PNG states pixels per metre: 150 dpi comes back as 150.01
        assert [page.get_size() for page in written] == [
            pytest.approx((width * 72 / dpi, height * 72 / dpi), rel=1e-3) for dpi in (150, 200)]
        assert _words(written[0].get_textpage().get_text_range()) == "12" * len(table_page(garuda).boxes)


def test_cli_ocr_pdf_is_not_written_when_no_page_was_read(run_cli, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    code, _, err = run_cli("ocr", broken, "--boxes-only", "--pdf", tmp_path / "out.pdf")
    assert code == 1 and "no page was read, so" in err and not (tmp_path / "out.pdf").exists()
