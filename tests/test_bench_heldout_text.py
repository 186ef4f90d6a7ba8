"""The bench-only texts and image steps of bench/heldout.py's receipt, long and scan sets."""

import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from heldout_lines import LineRecipe, ink_extent, make_line, scale_ink  # noqa: E402
from heldout_text import PROSE_LENGTH, RECEIPT_KINDS, ProseLines, ReceiptLines, cells, columns  # noqa: E402
from thaiocr.charset import Charset, normalize_text  # noqa: E402
from thaiocr.synth import settings  # noqa: E402
from thaiocr.synth.corpora import has_orphan_mark  # noqa: E402
from thaiocr.synth.effectsettings import EffectSettings  # noqa: E402
from thaiocr.synth.fonts import discover_fonts  # noqa: E402
from thaiocr.synth.render import render_line  # noqa: E402

CHARSET = Charset.builtin("thai_full")


def draws(texts, count: int) -> list[tuple[str, str]]:
    return [texts.draw(random.Random(seed)) for seed in range(count)]


@pytest.mark.parametrize("texts", [ReceiptLines(), ProseLines(CHARSET)], ids=["receipt", "prose"])
def test_lines_are_normalised_in_the_alphabet_and_a_function_of_the_seed(texts):
    lines = draws(texts, 400)
    assert lines == draws(texts, 400)
    for _, text in lines:
        assert text == normalize_text(text) == text.strip() and text
        assert not CHARSET.unknown_chars(text) and not has_orphan_mark(text)


def test_receipts_draw_every_kind_in_padded_columns():
    lines = draws(ReceiptLines(), 400)
    assert {kind for kind, _ in lines} == set(RECEIPT_KINDS)
    assert any("  " in text for kind, text in lines if kind == "item")
    assert columns("ไข่ไก่ 2 x 45.00", "90.00", 32) == "ไข่ไก่ 2 x 45.00" + " " * 13 + "90.00"
    assert cells(columns("ไข่ไก่ 2 x 45.00", "90.00", 32)) == 32


def test_prose_lines_are_60_to_100_code_points_of_mostly_unspaced_words():
    lines = [text for _, text in draws(ProseLines(CHARSET), 300)]
    assert all(PROSE_LENGTH[0] <= len(text) <= PROSE_LENGTH[1] for text in lines)
    assert sum(text.count(" ") for text in lines) / sum(map(len, lines)) < 0.1
    assert any(ch.isdigit() for text in lines for ch in text)
    assert not any(text.startswith(("ๆ", "ฯ")) or " ๆ" in text or " ฯ" in text for text in lines)


def test_scale_ink_sets_the_ink_height():
    font = next(font for font in discover_fonts() if font.name == "Loma")
    line = render_line("นายสมชาย ใจดี", font, random.Random(0), 48, EffectSettings.disabled())
    assert abs(ink_extent(scale_ink(line, 18)) - 18) <= 1
    assert abs(ink_extent(scale_ink(line, 40)) - 40) <= 1


def test_bench_lines_keep_their_print_style_when_trainings_changes(monkeypatch):
    """Training's `document` style came to set some spaces wide; the held-out sets must not follow it."""
    font = next(f for f in discover_fonts() if f.family == "Laksaman")
    recipe = LineRecipe("receipt", "document")

    def drawn() -> np.ndarray:
        return np.asarray(make_line("รวม 120.00 บาท", font, random.Random(3), EffectSettings.disabled(), recipe))

    before = drawn()
    widened = replace(settings.PRINT_STYLES["document"], column_gap_probability=1.0, column_gap=(8.0, 8.0))
    monkeypatch.setitem(settings.PRINT_STYLES, "document", widened)
    assert np.array_equal(drawn(), before)
    assert recipe.to_dict()["print_style"]["column_gap_probability"] == 0.0  # in the set's manifest
