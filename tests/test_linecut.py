"""Cutting lines wider than a recogniser's input at gaps, and joining the pieces' readings."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import font_named
from thaiocr.evaluate import compute_metrics
from thaiocr.linecut import MIN_PIECE, blank_runs, column_ink, cut_line, join_readings
from thaiocr.predict import Recognizer

HEIGHT = 48
PAPER, INK = 235, 20


def bars(layout: list[tuple[int, int]], paper: int = PAPER, ink: int = INK) -> np.ndarray:
    """A ``[HEIGHT, W, 3]`` line of ink bars: ``(gap before, bar width)`` pairs, then a 3 px margin.
    Bars are inked over the middle rows only, as glyphs are."""
    width = sum(gap + bar for gap, bar in layout) + 3
    line = np.full((HEIGHT, width, 3), paper, dtype=np.uint8)
    x = 0
    for gap, bar in layout:
        x += gap
        line[10:38, x : x + bar] = ink
        x += bar
    return line


def glyphs(count: int, rng: np.random.Generator, space_every: int = 0) -> list[tuple[int, int]]:
    """Glyph-like bars 8-20 px wide, 2-3 px apart, and a 12 px gap (a word space) every ``space_every``."""
    return [(12 if space_every and i % space_every == 0 else int(rng.integers(2, 4)), int(rng.integers(8, 21)))
            for i in range(count)]


def assert_pieces_cover(line: np.ndarray, pieces: list[np.ndarray], max_width: int) -> None:
    assert all(0 < piece.shape[1] <= max_width for piece in pieces)
    assert np.array_equal(np.concatenate(pieces, axis=1), line)  # in order, nothing lost, not even the end


def cut_columns_of(pieces: list[np.ndarray]) -> list[int]:
    return np.cumsum([piece.shape[1] for piece in pieces])[:-1].tolist()


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_width", [100, 333, 720])
def test_pieces_fit_and_cover_the_line_with_cuts_in_blank_columns(seed, max_width):
    line = bars(glyphs(200, np.random.default_rng(seed)))
    cut = cut_line(line, max_width)
    assert_pieces_cover(line, cut.pieces, max_width)
    assert len(cut.separators) == len(cut.pieces) - 1
    ink = column_ink(line)
    assert all(ink[column] == 0 for column in cut_columns_of(cut.pieces))


def test_light_text_on_dark_is_cut_in_its_gaps_too():
    line = bars(glyphs(120, np.random.default_rng(1)), paper=30, ink=220)
    cut = cut_line(line, 300)
    assert len(cut.pieces) > 1
    assert all(column_ink(line)[column] == 0 for column in cut_columns_of(cut.pieces))


def test_a_word_space_is_preferred_and_joins_with_a_space_a_glyph_gap_with_nothing():
    rng = np.random.default_rng(2)
    spaced = bars(glyphs(150, rng, space_every=7))
    cut = cut_line(spaced, 400)
    assert cut.separators and set(cut.separators) == {" "}
    ink = column_ink(spaced)
    runs = blank_runs(ink == 0)
    for column in cut_columns_of(cut.pieces):
        start, end = next((s, e) for s, e in runs if s <= column < e)
        assert end - start == 12
    unspaced = cut_line(bars(glyphs(150, rng)), 400)
    assert unspaced.separators and set(unspaced.separators) == {""}


def test_a_line_without_gaps_is_cut_at_its_least_inked_columns_and_keeps_its_end():
    rng = np.random.default_rng(3)
    line = np.full((HEIGHT, 1000, 3), PAPER, dtype=np.uint8)
    depth = rng.integers(8, 20, size=1000)  # ink from the top down, in every column
    depth[[350, 650]] = 3  # the faintest columns
    for x, rows in enumerate(depth):
        line[:rows, x] = INK
    cut = cut_line(line, 400)
    assert_pieces_cover(line, cut.pieces, 400)
    assert cut_columns_of(cut.pieces) == [350, 650]
    assert cut.separators == ["", ""]


def test_the_last_piece_is_never_a_sliver():
    line = bars([(3, 10)] * 52)  # 679 columns: a cut at the limit would leave a few
    cut = cut_line(line, 676)
    assert_pieces_cover(line, cut.pieces, 676)
    assert cut.pieces[-1].shape[1] >= MIN_PIECE


def test_a_line_within_the_width_is_its_only_piece_untouched():
    line = bars(glyphs(20, np.random.default_rng(4)))
    cut = cut_line(line, line.shape[1])
    assert len(cut.pieces) == 1 and cut.pieces[0] is line and cut.separators == []


def test_join_tidies_spaces_at_piece_edges_and_weights_confidence_by_characters():
    assert join_readings(["ab ", " cd"], [0.9, 0.6], [" "]) == ("ab cd", pytest.approx(0.75))
    assert join_readings(["ab", "cd"], [0.9, 0.6], [""])[0] == "abcd"
    text, confidence = join_readings(["กข", "", "ค"], [0.9, 0.1, 0.6], [" ", ""])
    assert text == "กข ค" and confidence == pytest.approx((2 * 0.9 + 0.6) / 3)  # an empty piece counts for nothing
    assert join_readings(["", ""], [0.2, 0.3], [" "]) == ("", 1.0)  # as an empty single reading
    assert join_readings([" a b "], [0.123], []) == (" a b ", 0.123)  # a single reading passes through as is


LONG_LINE = ("ประเทศไทยมีประชากรประมาณหกสิบหกล้านคน กรุงเทพมหานครเป็นเมืองหลวง "
             "และเป็นศูนย์กลางทางเศรษฐกิจของประเทศ")


def test_the_shipped_model_reads_a_line_nearly_twice_its_input_width(fonts):
    face = ImageFont.truetype(str(font_named(fonts, "Laksaman").path), 40, layout_engine=ImageFont.Layout.RAQM)
    left, top, right, bottom = face.getbbox(LONG_LINE)
    image = Image.new("RGB", (right - left + 24, bottom - top + 16), "white")
    ImageDraw.Draw(image).text((12 - left, 8 - top), LONG_LINE, font=face, fill="black")
    recognizer = Recognizer()
    assert recognizer.preprocess.target_width(*image.size) > 1.8 * recognizer.preprocess.max_width
    prediction = recognizer([image])[0]
    assert compute_metrics([prediction.text], [LONG_LINE]).cer <= 0.03
    assert prediction.confidence > 0.9
