"""Every character of the full dict, in every discovered font that claims it, draws real ink.

A claimed character that draws nothing, or draws the font's .notdef box (tofu), would teach the
model a wrong shape; marks must stand over or under their base, not beside it.
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from thaiocr.charset import builtin_dict_chars, is_combining
from thaiocr.synth.fonts import font_covers

SIZE = 40
BASE = "\u0e01"  # ko kai: marks are drawn on it
NOT_A_CHARACTER = "\uffff"  # never in a cmap: draws the .notdef glyph


def ink(text: str, face: ImageFont.FreeTypeFont) -> np.ndarray:
    image = Image.new("L", (4 * SIZE, 4 * SIZE), 0)
    ImageDraw.Draw(image).text((SIZE, SIZE), text, font=face, fill=255)
    return np.asarray(image) > 48


def columns(mask: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(cols[-1])


@pytest.fixture(scope="module")
def faces(fonts) -> list[tuple[str, ImageFont.FreeTypeFont, object]]:
    return [(font.name, ImageFont.truetype(str(font.path), SIZE, layout_engine=ImageFont.Layout.RAQM), font)
            for font in fonts]


def test_every_claimed_dict_character_draws_its_own_ink_not_tofu(faces):
    chars = [ch for ch in builtin_dict_chars("thai_full") if ch != " " and not is_combining(ch)]
    failures = []
    for name, face, font in faces:
        tofu = ink(NOT_A_CHARACTER, face)
        for ch in chars:
            if not font_covers(font, ch):
                continue
            drawn = ink(ch, face)
            if not drawn.any() or np.array_equal(drawn, tofu):
                failures.append(f"{name} {ch!r} U+{ord(ch):04X}")
    assert not failures, failures[:20]


def test_every_claimed_mark_stands_over_or_under_its_base(faces):
    marks = [ch for ch in builtin_dict_chars("thai_full") if is_combining(ch)]
    failures = []
    for name, face, font in faces:
        base = ink(BASE, face)
        left, right = columns(base)
        for mark in marks:
            if not font_covers(font, BASE + mark):
                continue
            drawn = ink(BASE + mark, face)
            added = drawn & ~base
            if added.sum() < 2:  # a hairline face's phinthu (Kanit Thin) is a 2-pixel dot at 40 px
                failures.append(f"{name} U+{ord(mark):04X}: no ink added")
                continue
            # TlwgMono, which font_covers keeps away from marks, starts them 0.56-1.44 base widths
            # past the base's right edge; fonts that place marks well start them at most 0.08 past it.
            if columns(added)[0] - right > 0.3 * (right - left):
                failures.append(f"{name} U+{ord(mark):04X}: drawn beside the base")
    assert not failures, failures[:20]


def test_the_tofu_check_recognises_a_missing_glyph(faces):
    name, face, font = next(entry for entry in faces if entry[0] == "NotoSansThai-Regular")
    assert not font_covers(font, "A")
    assert np.array_equal(ink("A", face), ink(NOT_A_CHARACTER, face))  # Noto Sans Thai has no Latin
