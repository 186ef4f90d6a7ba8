import json
from pathlib import Path

import pytest
from PIL import Image

from conftest import font_named
from pagekit import small_page
from thaiocr.documents import document_pages, parse_pages
from thaiocr.errors import ThaiOCRError


@pytest.fixture(scope="module")
def page(fonts) -> Image.Image:
    return small_page(font_named(fonts, "Garuda").path)[0]


def _pdf(path: Path, pages: list[Image.Image], dpi: int = 100) -> Path:
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=dpi)
    return path


def test_page_lists_and_ranges():
    assert parse_pages("1-3,7") == {1, 2, 3, 7}
    assert parse_pages(" 2 , 2-2 ") == {2}
    for bad in ("0", "3-1", "a", "1,,2", "-4"):
        with pytest.raises(ThaiOCRError, match="is not a page or a range"):
            parse_pages(bad)


def test_a_pdf_is_rendered_page_by_page_at_the_dpi_and_pages_are_selected(tmp_path, page):
    pdf = _pdf(tmp_path / "doc.pdf", [page, page.rotate(180), page], dpi=100)
    found = list(document_pages([pdf], dpi=200))
    assert [p.number for p in found] == [1, 2, 3] and all(p.error is None for p in found)
    assert found[0].image.size == (1280, 800)  # 640 x 400 px at 100 dpi is 6.4 x 4 inches
    assert [p.number for p in document_pages([pdf], {1, 3}, dpi=50)] == [1, 3]
    over = list(document_pages([pdf], {2}, dpi=200, max_pixels=1_000_000))
    assert over[0].image is None and "doc.pdf page 2: 1280x800 at 200 dpi is 1,024,000 pixels" in over[0].error


def test_tiff_frames_folders_and_bad_files_become_pages_or_errors(tmp_path, page):
    tiff = tmp_path / "scan.tif"
    page.save(tiff, save_all=True, append_images=[page.convert("L")])
    folder = tmp_path / "pages"
    folder.mkdir()
    page.save(folder / "b.png")
    page.save(folder / "a.jpg")
    (folder / "notes.txt").write_text("not a page")
    corrupt = tmp_path / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.4 this is not a PDF")
    found = list(document_pages([tiff, folder, corrupt, tmp_path / "missing.png"]))
    assert [(p.source.name, p.number, p.image is not None) for p in found] == [
        ("scan.tif", 1, True), ("scan.tif", 2, True), ("a.jpg", 1, True), ("b.png", 1, True),
        ("broken.pdf", 1, False), ("missing.png", 1, False),
    ]
    assert found[1].image.mode == "RGB" and found[1].image.size == page.size
    assert "broken.pdf: cannot open the PDF" in found[4].error
    assert "missing.png: image file not found" in found[5].error


def test_cli_ocr_reads_every_page_of_a_pdf_as_json_records(run_cli, tmp_path, page):
    pdf = _pdf(tmp_path / "doc.pdf", [page, page])
    code, out, _ = run_cli("ocr", pdf, "--boxes-only", "--json", "--dpi", "100")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["source"], r["page"]) for r in records] == [(str(pdf), 1), (str(pdf), 2)]
    assert all(len(r["lines"]) >= 3 and (r["width"], r["height"]) == (640, 400) for r in records)


def test_cli_ocr_reports_a_bad_input_and_still_reads_the_rest(run_cli, tmp_path, page):
    good = tmp_path / "good.png"
    page.save(good)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"garbage")
    code, out, err = run_cli("ocr", good, bad, good, "--boxes-only", "--draw", tmp_path / "boxes.png")
    assert code == 1
    assert out.count("==> ") == 2 and f"==> {good} page 1 <==" in out
    assert "thaiocr: error: " in err and "bad.pdf: cannot open the PDF" in err
    assert "1 of 3 pages could not be read" in err
    assert (tmp_path / "boxes-1.png").exists() and (tmp_path / "boxes-3.png").exists()  # the Nth page read
