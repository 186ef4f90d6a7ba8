"""Rendering one text line: a font sized to a target height, colours, letter spacing and stroke weight,
on a background with decorations, through the effect chain.

Every random choice comes from the ``random.Random`` passed in, so a line is a pure function of
its seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from thaiocr.charset import is_combining
from thaiocr.synth.backgrounds import decorate, make_background
from thaiocr.synth.effects import RGB, apply_effects
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings
from thaiocr.synth.fonts import FontInfo
from thaiocr.synth.settings import PRINT_STYLES, PrintStyle

REFERENCE_SIZE = 100  # font size at which a text's ink height is measured before scaling
TIGHT_CROP_PROBABILITY = 0.4
TRACKING_PROBABILITY = 0.3
# Extra space between characters, as a fraction of the ink height. A word space is ~0.36 of the
# digits' ink height (median of 304 faces, 0.29 to 0.97): tracking up to half of that keeps a
# tracked gap from passing for a space. Up to 0.35 (synth 6), "26" letter-spaced read as "2 6".
TRACKING_RANGE = (0.03, 0.18)
STROKE_PROBABILITY = 0.1  # a 1 px outline in the ink colour: a bolder weight than the face has
MIN_STROKE_SIZE = 24  # font size below which a 1 px outline would fill the counters
# The tallest stack above and the deepest below a Thai base (ป + sara i + mai tri, ฎ + sara uu):
# decorations keep out of that band even when this line has no marks, or they would look like marks.
MARK_ZONE_PROBE = "\u0e1b\u0e34\u0e4a\u0e0e\u0e39"


@dataclass(frozen=True)
class _Layout:
    """The rendered pieces of a text and where they go on a canvas of ``size``; the box the ink occupies.

    Each piece is rasterised once, as the "L" mask Pillow's text drawing would make (a
    ``PIL.Image.core`` image), so measuring the line and drawing it cost one FreeType pass.
    """

    masks: list[tuple[Any, tuple[int, int]]]  # (mask, its top-left corner on the canvas)
    origin: tuple[int, int]  # pen position of the first piece
    size: tuple[int, int]
    ink_box: tuple[int, int, int, int]


@lru_cache(maxsize=1024)
def _raqm_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A face at ``size``, reused: raqm places stacked Thai marks correctly."""
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)


def render_line(
    text: str, font: FontInfo, rng: random.Random, height: int = 32, effects: EffectSettings = DEFAULT_EFFECTS,
    style: PrintStyle = PRINT_STYLES["free"],
) -> Image.Image:
    """An RGB image of one text line, about ``height``..``2 * height`` px high, as a crop of a document.

    The font size is chosen so that the ink plus the vertical margins fills a random target height
    in that range, whatever the script; the canvas is laid out from the glyph bounding boxes, so
    stacked marks and descenders are never clipped. The text is drawn on a background with
    decorations, then degraded by the effect chain (see :mod:`thaiocr.synth.effects`).
    """
    margins = _random_margins(rng)
    target_height = rng.triangular(height, 2 * height, height)  # mostly small: they write faster
    ink_height = target_height / (1 + margins[1] + margins[3])
    face = _face_for_ink_height(font.path, text, ink_height)
    tracking = _random_tracking(rng, ink_height)
    stroke = 1 if face.size >= MIN_STROKE_SIZE and rng.random() < STROKE_PROBABILITY else 0
    foreground, background = _random_colours(rng, style)
    spaces = _wide_spaces(text, rng, style, ink_height)
    layout = _layout(text, face, margins, tracking, stroke, spaces)
    image = make_background(layout.size, background, rng, effects)
    keep_clear = _mark_zone(layout, face)
    decorate(image, keep_clear, foreground, rng, effects, neighbour=lambda: _coverage(layout))
    _draw_text(image, layout, foreground)
    return apply_effects(image, background, rng, effects)


def _random_margins(rng: random.Random) -> tuple[float, float, float, float]:
    """Left, top, right, bottom margins as fractions of the ink height: tight or loose crops."""
    low, high = (0.0, 0.08) if rng.random() < TIGHT_CROP_PROBABILITY else (0.05, 0.5)
    left, top, right, bottom = (rng.uniform(low, high) for _ in range(4))
    return left, top, right, bottom


def _random_tracking(rng: random.Random, ink_height: float) -> int:
    """Extra pixels between characters, or 0 (set as the font designer spaced them).

    Letter-spaced lines show the model that a wide gap between digits is not by itself a space:
    fonts unseen in training space their characters differently.
    """
    if rng.random() >= TRACKING_PROBABILITY:
        return 0
    return round(rng.uniform(*TRACKING_RANGE) * ink_height)


def _wide_spaces(text: str, rng: random.Random, style: PrintStyle, ink_height: float) -> dict[int, float]:
    """Extra pixels after some of the text's spaces, by their index: a column gap, a justified line, or none.

    Nothing is drawn from ``rng`` for a style that never widens spaces, so its lines stay as they were.
    """
    if not (style.column_gap_probability or style.justified_probability):
        return {}
    spaces = [index for index, char in enumerate(text) if char == " "]
    draw = rng.random()
    if not spaces or draw >= style.column_gap_probability + style.justified_probability:
        return {}
    if draw < style.column_gap_probability:
        return {rng.choice(spaces): rng.uniform(*style.column_gap) * ink_height}
    extra = rng.uniform(*style.justified) * ink_height
    return dict.fromkeys(spaces, extra)


def _face_for_ink_height(path: Path, text: str, ink_height: float) -> ImageFont.FreeTypeFont:
    _, top, _, bottom = _raqm_font(path, REFERENCE_SIZE).getbbox(text)
    size = round(REFERENCE_SIZE * ink_height / max(bottom - top, 1))
    return _raqm_font(path, max(size, 8))


def _random_colours(rng: random.Random, style: PrintStyle) -> tuple[RGB, RGB]:
    """(foreground, background): dark-ish on light-ish, sometimes inverted, each slightly tinted."""
    dark = _tinted(rng, rng.randint(*style.ink), style.tint)
    light = _tinted(rng, rng.randint(*style.paper), style.tint)
    return (light, dark) if rng.random() < style.inverted_probability else (dark, light)


def _tinted(rng: random.Random, level: int, tint: int) -> RGB:
    red, green, blue = (min(255, max(0, level + rng.randint(-tint, tint))) for _ in range(3))
    return red, green, blue


def _layout(text: str, face: ImageFont.FreeTypeFont, margins: tuple[float, float, float, float],
            tracking: int = 0, stroke: int = 0, spaces: dict[int, float] | None = None) -> _Layout:
    """``spaces``: extra pixels after the characters at these indices (see :func:`_wide_spaces`)."""
    spaces = spaces or {}
    if tracking:
        pieces = _place_clusters(text, face, tracking, spaces)
    elif spaces:
        pieces = _place_runs(text, face, spaces)
    else:
        pieces = [(text, 0.0)]
    rendered = [_rasterise(piece, x, face, stroke) for piece, x in pieces]
    left, top, right, bottom = _union_box(rendered)
    # At least 1 px each side: the masks hold every anti-aliased pixel, but a margin keeps ink off the edge.
    pad_left, pad_top, pad_right, pad_bottom = (max(1, round(m * (bottom - top))) for m in margins)
    size = (right - left + pad_left + pad_right, bottom - top + pad_top + pad_bottom)
    ink_box = (pad_left, pad_top, pad_left + right - left, pad_top + bottom - top)
    origin = (pad_left - left, pad_top - top)
    masks = [(mask, (origin[0] + x, origin[1] + y)) for mask, (x, y) in rendered if _has_ink(mask)]
    return _Layout(masks, origin, size, ink_box)


def _rasterise(piece: str, x: float, face: ImageFont.FreeTypeFont, stroke: int) -> tuple[Any, tuple[int, int]]:
    """``piece`` drawn with its pen at ``(x, 0)``, as ``ImageDraw.text`` would: (mask, mask's top-left corner).

    The fraction of ``x`` is passed to FreeType, so letter-spaced clusters keep their sub-pixel positions.
    """
    whole = math.floor(x)
    mask, (dx, dy) = face.getmask2(piece, "L", stroke_width=stroke, stroke_filled=True, start=(x - whole, 0))
    return mask, (whole + dx, dy)


def _has_ink(mask: Any) -> bool:
    return mask.size[0] > 0 and mask.size[1] > 0


def _union_box(rendered: list[tuple[Any, tuple[int, int]]]) -> tuple[int, int, int, int]:
    """The box around every inked mask, in pen coordinates (spaces have no ink)."""
    boxes = [(x, y, x + mask.size[0], y + mask.size[1]) for mask, (x, y) in rendered]
    inked = [box for box, (mask, _) in zip(boxes, rendered, strict=True) if _has_ink(mask)] or boxes
    return (min(b[0] for b in inked), min(b[1] for b in inked), max(b[2] for b in inked), max(b[3] for b in inked))


def _mark_zone(layout: _Layout, face: ImageFont.FreeTypeFont) -> tuple[int, int, int, int]:
    """The ink box grown to the band where this face's marks could be, within the canvas."""
    probe_top, probe_bottom = _mark_extent(face.path, face.size)
    left, top, right, bottom = layout.ink_box
    return (left, max(0, min(top, layout.origin[1] + probe_top)), right,
            min(layout.size[1], max(bottom, layout.origin[1] + probe_bottom)))


def _mark_extent(path: str, size: int) -> tuple[int, int]:
    """The probe's top and bottom at ``size``, relative to the pen position.

    Scaled from the reference size and widened by a pixel each way for hinting: font sizes vary
    too much between lines for a layout cached per size to be reused.
    """
    top, bottom = _reference_mark_extent(path)
    scale = size / REFERENCE_SIZE
    return math.floor(top * scale) - 1, math.ceil(bottom * scale) + 1


@lru_cache(maxsize=1024)
def _reference_mark_extent(path: str) -> tuple[int, int]:
    _, top, _, bottom = _raqm_font(Path(path), REFERENCE_SIZE).getbbox(MARK_ZONE_PROBE)
    return top, bottom


def _draw_text(image: Image.Image, layout: _Layout, fill: RGB | int) -> None:
    """Composite the layout's masks in ``fill``: the core calls ``ImageDraw.text`` itself ends in."""
    draw = ImageDraw.Draw(image).draw
    ink = draw.draw_ink(fill)
    for mask, corner in layout.masks:
        draw.draw_bitmap(corner, mask, ink)


def _coverage(layout: _Layout) -> Image.Image:
    """The line's own ink as an "L" mask: slices of it stand in for the lines above and below."""
    mask = Image.new("L", layout.size, 0)
    _draw_text(mask, layout, 255)
    return mask


def text_clusters(text: str) -> list[str]:
    """``text`` cut before every character that is not a combining mark: a base and its marks stay together."""
    clusters: list[str] = []
    for ch in text:
        if clusters and is_combining(ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


def _place_clusters(text: str, face: ImageFont.FreeTypeFont, tracking: int,
                    spaces: dict[int, float]) -> list[tuple[str, float]]:
    """Each cluster with its pen position: its own advance plus ``tracking`` pixels after it (and the
    extra pixels ``spaces`` gives the character it starts at)."""
    pieces, x, start = [], 0.0, 0
    for cluster in text_clusters(text):
        pieces.append((cluster, x))
        x += face.getlength(cluster) + tracking + spaces.get(start, 0.0)
        start += len(cluster)
    return pieces


def _place_runs(text: str, face: ImageFont.FreeTypeFont, spaces: dict[int, float]) -> list[tuple[str, float]]:
    """The text cut after each widened space, each run shaped whole at its pen position."""
    pieces, x, start = [], 0.0, 0
    for end in [*sorted(index + 1 for index in spaces), len(text)]:
        run = text[start:end]
        if run:
            pieces.append((run, x))
            x += face.getlength(run) + spaces.get(end - 1, 0.0)
        start = end
    return pieces
