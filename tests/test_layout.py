"""Reading order (thaiocr.layout): columns, tables and paragraphs from line boxes, on boxes given
by hand and on rendered pages, and through PageReader end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import font_named
from pagekit import column_page, table_page
from thaiocr.det.metrics import page_edits
from thaiocr.layout import PARAGRAPH, TABLE, Block, box_bounds, group_rows, layout, page_text, reorder
from thaiocr.page import PageReader


def _quad(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)


def _order(quads: list[np.ndarray]) -> list[int]:
    return [i for block in layout(quads) for i in block.lines]


def _column(left: float, right: float, top: float, count: int, pitch: float = 40, height: float = 30,
            gap_before: tuple[int, ...] = ()) -> list[np.ndarray]:
    """``count`` full lines from ``left`` to ``right``, ``pitch`` apart; 40 px more before the given lines."""
    quads = []
    for number in range(count):
        top += 40 if number in gap_before else 0
        quads.append(_quad(left, top, right, top + height))
        top += pitch
    return quads


# --- known boxes --------------------------------------------------------------------------------


def test_rows_top_to_bottom_each_left_to_right():
    quads = [_quad(600, 105, 700, 125), _quad(50, 10, 300, 40), _quad(50, 100, 200, 130), _quad(320, 12, 500, 38),
             _quad(50, 200, 400, 230)]
    assert group_rows(box_bounds(quads), range(5)) == [[1, 3], [2, 0], [4]]


def test_one_column_keeps_its_rows_and_parts_paragraphs_at_a_wider_gap():
    quads = _column(50, 650, 20, 6, gap_before=(3,))
    blocks = layout(quads[::-1])  # the order given does not matter
    assert [(b.kind, b.column, b.lines) for b in blocks] == [(PARAGRAPH, 0, [5, 4, 3]), (PARAGRAPH, 0, [2, 1, 0])]
    assert page_text(list("abcdef"), quads) == "a\nb\nc\n\nd\ne\nf"


def test_an_indented_row_starts_a_paragraph_and_a_taller_one_only_after_a_wider_gap():
    indented = [*_column(50, 650, 20, 2), _quad(100, 100, 650, 130), *_column(50, 650, 140, 2)]
    assert page_text(list("abcde"), indented) == "a\nb\n\nc\nd\ne"
    taller = [_quad(50, 10, 400, 60), *_column(50, 650, 70, 3)]  # as high as a Thai line with stacked marks
    assert page_text(list("Habc"), taller) == "H\na\nb\nc"
    heading = [_quad(50, 10, 400, 60), *_column(50, 650, 95, 3)]
    assert page_text(list("Habc"), heading) == "H\n\na\nb\nc"


def test_two_columns_are_read_one_after_the_other():
    left, right = _column(40, 390, 20, 5, gap_before=(3,)), _column(440, 790, 20, 6)
    quads = [q for pair in zip(left, right, strict=False) for q in pair] + right[5:]  # given row by row
    blocks = layout(quads)
    assert [(b.column, [quads[i][0, 0] for i in b.lines]) for b in blocks] == [
        (1, [40, 40, 40]), (1, [40, 40]), (2, [440] * 6)]
    assert [quads[i][0, 1] for i in blocks[0].lines + blocks[1].lines] == [q[0, 1] for q in left]


def test_columns_whose_lines_are_not_level_are_read_one_after_the_other():
    intro = _column(40, 790, 10, 2)  # a paragraph across both columns first
    left, right = _column(40, 390, 100, 5), _column(440, 790, 120, 5)  # half a line lower: no row holds both
    quads = intro + right + left
    assert _order(quads) == [0, 1, *range(7, 12), *range(2, 7)]


def test_a_full_width_heading_comes_before_the_columns_under_it_and_a_footer_after():
    heading, footer = _quad(200, 10, 600, 55), _quad(380, 400, 440, 420)
    left, right = _column(40, 390, 80, 5), _column(440, 790, 80, 4)
    order = _order([footer, *right, heading, *left])
    assert order == [5, *range(6, 11), *range(1, 5), 0]


def test_a_heading_over_one_column_is_read_with_it():
    heading = _quad(40, 10, 250, 50)  # short, over the left column only
    quads = [heading, *_column(40, 390, 80, 4), *_column(440, 790, 80, 4)]
    assert _order(quads) == list(range(9))


def test_stacked_lines_of_different_widths_are_read_top_to_bottom():
    quads = [_quad(550, 136, 708, 179), _quad(116, 203, 372, 251), _quad(120, 300, 1120, 330)]
    assert _order(quads) == [0, 1, 2]


def test_a_table_is_read_row_by_row_with_tabs_between_cells():
    caption = _quad(50, 10, 250, 40)
    cells = [_quad(left, top, left + width, top + 30) for top in (60, 110, 160)
             for left, width in ((50, 120), (300, 60), (450, 90))]
    after = _quad(50, 220, 700, 250)
    quads = [after, *cells[::-1], caption]
    blocks = layout(quads)
    assert [b.kind for b in blocks] == [PARAGRAPH, TABLE, PARAGRAPH]
    table = blocks[1]
    assert [(r, c, [quads[i][0, 0] for i in cell]) for r, c, cell in table.cells()][:4] == [
        (0, 0, [50]), (0, 1, [300]), (0, 2, [450]), (1, 0, [50])]
    text = page_text(["after", *[f"c{8 - i}" for i in range(9)], "caption"], quads)
    assert text == "caption\n\nc0\tc1\tc2\nc3\tc4\tc5\nc6\tc7\tc8\n\nafter"


def test_a_table_keeps_its_empty_cells_in_place():
    quads = [_quad(50, 10, 150, 40), _quad(300, 10, 380, 40), _quad(450, 10, 520, 40),
             _quad(50, 60, 150, 90), _quad(450, 60, 520, 90)]
    assert page_text(list("abcde"), quads) == "a\tb\tc\nd\t\te"


def test_a_wide_gap_within_a_row_is_a_tab_and_a_narrow_one_a_space():
    quads = [_quad(50, 10, 300, 40), _quad(310, 10, 700, 40), _quad(50, 60, 200, 90), _quad(600, 60, 700, 90)]
    assert page_text(["ก", "ข", "ค", "12"], quads) == "ก ข\nค\t12"


def test_a_table_inside_a_column_stays_in_it():
    left = _column(40, 390, 20, 8)
    table = [_quad(left, top, left + 60, top + 30) for top in (20, 60, 100) for left in (440, 560, 680)]
    prose = _column(440, 790, 140, 5)
    quads = left + table + prose
    blocks = layout(quads)
    assert [(b.kind, b.column) for b in blocks] == [(PARAGRAPH, 1), (TABLE, 2), (PARAGRAPH, 2)]
    assert _order(quads) == list(range(len(quads)))


def test_a_speck_joins_the_nearest_line_instead_of_a_row_of_its_own():
    quads = [*_column(50, 650, 20, 3), _quad(300, 51, 306, 57)]  # between the first two lines, nearer the first
    assert layout(quads) == [Block(PARAGRAPH, (((0, 3),), ((1,),), ((2,),)))]


def test_reorder_counts_the_blocks_lines_in_reading_order():
    blocks = [Block(PARAGRAPH, (((2,),), ((0,),))), Block(TABLE, (((3,), (1,)),), column=1)]
    order, renumbered = reorder(blocks)
    assert order == [2, 0, 3, 1]
    assert renumbered == [Block(PARAGRAPH, (((0,),), ((1,),))), Block(TABLE, (((2,), (3,)),), column=1)]


def test_no_boxes_no_blocks():
    assert layout([]) == [] and page_text([], []) == ""


# --- rendered pages -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def garuda(fonts):
    return font_named(fonts, "Garuda").path


@pytest.mark.parametrize(("heading", "offset"), [(False, 0), (True, 0), (True, 16)])  # 16: half a line
def test_a_rendered_two_column_page_is_read_column_by_column(garuda, heading, offset):
    page = column_page(garuda, heading=heading, offset=offset)
    quads = [np.array(box.points, dtype=np.float32) for box in page.boxes]
    shuffled = list(np.random.default_rng(0).permutation(len(quads)))
    blocks = layout([quads[i] for i in shuffled])
    assert [shuffled[i] for block in blocks for i in block.lines] == list(range(len(quads)))
    assert [len(block.lines) for block in blocks] == page.blocks
    assert [block.column for block in blocks] == [0] * heading + [1, 1, 2]


def test_a_rendered_ruled_table_is_read_row_by_row(garuda):
    page = table_page(garuda)
    quads = [np.array(box.points, dtype=np.float32) for box in page.boxes]
    blocks = layout(quads)
    assert [b.kind for b in blocks] == [PARAGRAPH, TABLE, PARAGRAPH]
    assert [len(b.lines) for b in blocks] == page.blocks and _order(quads) == list(range(len(quads)))
    assert page_text([box.text for box in page.boxes], quads).splitlines()[3] == "สมุดปกแข็ง\t๑๒ เล่ม\t๓๖๐ บาท"


def test_page_reader_reads_a_two_column_page_in_order(garuda):
    """Detector and shipped recogniser on a small rendered page: the page's text (whitespace
    aside) is within a few per cent of what was drawn, which it is not when read across the columns."""
    page = column_page(garuda, heading=True)
    result = PageReader.from_paths()(page.image)
    edits, total = page_edits(result.text, page.text)
    assert edits / total < 0.05
    payload = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert [(b["kind"], b["column"], len(b["lines"])) for b in payload["blocks"]][:2] == [
        (PARAGRAPH, 0, 1), (PARAGRAPH, 1, 2)]
    assert "\n\n".join(b["text"] for b in payload["blocks"]) == payload["text"]
    assert sum(len(b["lines"]) for b in payload["blocks"]) == len(payload["lines"])
