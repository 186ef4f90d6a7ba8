"""The page benchmark's pieces: ODF text runs, line boxes from a text layer, Tesseract's TSV lines,
and (slow, with LibreOffice) pages typeset end to end."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from layout_pages import (  # noqa: E402
    KINDS,
    Char,
    Doc,
    _span,
    fodt,
    is_held_out,
    line_boxes,
    make_pages,
    page_plan,
    squeeze,
)
from page_bench import cer_edits, compared, tesseract_lines  # noqa: E402


def test_runs_of_spaces_and_tabs_survive_odf_and_text_is_escaped():
    assert _span("ก  ข\tค") == 'ก<text:s text:c="2"/>ข<text:tab/>ค'
    assert _span("a b") == "a b"
    assert _span("<R&D>") == "&lt;R&amp;D&gt;"


def test_a_page_is_valid_xml_with_its_columns_in_a_section():
    import xml.dom.minidom

    doc = Doc("Loma", 14.0)
    doc.add("<text:p>หัวเรื่อง</text:p>", "หัวเรื่อง")
    doc.start_wrap('<text:section text:name="C">', "</text:section>")
    doc.add("<text:p>ย่อหน้า</text:p>", "ย่อหน้า")
    xml.dom.minidom.parseString(fodt(doc).encode("utf-8"))
    assert '<text:section text:name="C"><text:p>ย่อหน้า</text:p></text:section>' in doc.body()
    assert doc.text == "หัวเรื่อง\nย่อหน้า"
    doc.blocks.pop()  # all of the wrapped blocks dropped: no empty section
    assert "section" not in doc.body()


def _char(text, left, right, baseline=100.0, em=40.0, top=None, bottom=None):
    top = baseline - 0.7 * em if top is None else top
    bottom = baseline if bottom is None else bottom
    return Char(text, (left, top, right, bottom), baseline, left, em, "Loma")


def test_line_boxes_group_by_baseline_and_split_at_wide_gaps():
    chars = [
        _char("ก", 100, 120), _char("ุ", 110, 118, top=100, bottom=112), _char(" ", 0, 0), _char("ข", 130, 150),
        _char("9", 300, 320),  # more than one em after ข: a box of its own (a table cell, an amount)
        _char("ค", 100, 120, baseline=160),  # the next row
    ]
    lines = line_boxes(chars, pad_em=0.0)
    assert [line["text"] for line in lines] == ["กุ ข", "9", "ค"]
    np.testing.assert_allclose(lines[0]["points"], [[100, 72], [150, 72], [150, 112], [100, 112]])
    padded = line_boxes(chars, pad_em=0.1)
    np.testing.assert_allclose(padded[1]["points"][0], [296, 68])


def test_whitespace_is_ignored_in_the_page_cer_and_leader_runs_count_three():
    assert squeeze("ก ข\tค\n ") == "กขค"
    assert cer_edits("กข\nค", "ก ข ค") == (0, 3)
    assert cer_edits("คขก", "กขค") == (2, 3)
    assert compared("ชื่อ ........ พ.ศ. ---- == **** __") == "ชื่อ...พ.ศ.---==***__"
    assert cer_edits("ชื่อ.....", "ชื่อ ..............") == (0, 7)
    assert cer_edits("ชื่อ", "ชื่อ ..............") == (3, 7)


def test_tesseract_line_boxes_are_its_level_4_rows_with_words():
    tsv = "\n".join([
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext",
        "4\t1\t1\t1\t1\t0\t10\t20\t100\t30\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t20\t40\t30\t95\tสวัสดี",
        "4\t1\t1\t1\t2\t0\t10\t60\t100\t30\t-1\t",
        "5\t1\t1\t1\t2\t1\t10\t60\t40\t30\t95\t ",
    ])
    (box,) = tesseract_lines(tsv)
    np.testing.assert_array_equal(box, [[10, 20], [110, 20], [110, 50], [10, 50]])


def test_every_kind_has_pages_in_seen_and_held_out_fonts():
    plan = page_plan(2)
    assert [kind for _, _, kind, _ in plan] == [kind for kind in KINDS for _ in range(2)]
    assert [is_held_out(family) for _, _, _, family in plan] == [False, True] * len(KINDS)
    assert is_held_out("Tlwg Typewriter") and not is_held_out("Tlwg Mono")


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="needs LibreOffice (make bench-setup)")
def test_libreoffice_pages_fit_one_sheet_and_their_text_layer_is_the_source(tmp_path):
    manifest = make_pages(tmp_path, per_kind=1, dpi=100, progress=False)
    assert [page["kind"] for page in manifest["pages"]] == list(KINDS)
    for page in manifest["pages"]:
        assert (tmp_path / page["image"]).is_file() and page["size"] == [827, 1170]  # A4 at 100 dpi
        assert page["layer_cer"] <= 0.01 and len(page["lines"]) >= 10
        assert all(family.replace(" ", "") in "".join(page["pdf_fonts"]) for family in [page["family"]])
    assert make_pages(tmp_path, per_kind=1, dpi=100, progress=False) == manifest  # made once


def test_the_detector_sweep_prints_a_line_per_setting(tmp_path, capsys):
    import det_settings

    det_settings.main(["--detector", "ppocrv6", "--pages", "1", "--limits", "320", "--unclips", "1.0,1.6",
                       "--threads", "1", "--out", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 tuning pages (training fonts, seed 4242")
    assert [line.split(",")[1] for line in lines[1:]] == [" unclip 1.00", " unclip 1.60"]
    assert all("H-mean" in line for line in lines[1:])


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("tesseract")), reason="make bench-setup")
def test_the_page_benchmark_runs_end_to_end(tmp_path, capsys):
    import page_bench

    page_bench.main(["--per-kind", "1", "--kinds", "receipt", "--dpi", "100", "--detectors", "ppocrv4,ppocrv6:640",
                     "--pages", str(tmp_path / "pages"), "--json", str(tmp_path / "figures.json")])
    out = capsys.readouterr().out
    assert "| receipt (1) |" in out and "thaiocr + ppocrv6:640" in out and "Tesseract tha" in out
    assert out.count("| all (1) |") == 3  # CER, detection, seconds
    import json

    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert set(figures["results"]) == {"thaiocr + ppocrv4 (960)", "thaiocr + ppocrv6:640", "Tesseract tha"}
