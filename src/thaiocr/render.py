"""Rendering one text line: a font sized to a target height, colours, letter spacing, effects.

Every random choice comes from the ``random.Random`` passed in, so a line is a pure function of
its seed.
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from thaiocr.charset import is_combining
from thaiocr.fonts import FontInfo

RGB = tuple[int, int, int]

REFERENCE_SIZE = 100  # font size at which a text's ink height is measured before scaling
INVERTED_PROBABILITY = 0.15
TIGHT_CROP_PROBABILITY = 0.4
TRACKING_PROBABILITY = 0.3
TRACKING_RANGE = (0.03, 0.35)  # extra space between characters, as a fraction of the ink height


def _raqm_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    # Loading a face takes ~50 us, so no cache is needed; raqm places stacked Thai marks correctly.
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)


def render_line(text: str, font: FontInfo, rng: random.Random, height: int = 32) -> Image.Image:
    """An RGB image of one text line, about ``height``..``2 * height`` px high, with random effects.

    The font size is chosen so that the ink plus the vertical margins fills a random target height
    in that range, whatever the script of the digits; the canvas is laid out from the glyph
    bounding box, so stacked marks and descenders are never clipped.
    """
    margins = _random_margins(rng)
    target_height = rng.triangular(height, 2 * height, height)  # mostly small: they write faster
    ink_height = target_height / (1 + margins[1] + margins[3])
    face = _face_for_ink_height(font.path, text, ink_height)
    tracking = _random_tracking(rng, ink_height)
    foreground, background = _random_colours(rng)
    image = _draw_text(text, face, margins, foreground, background, tracking)
    return _apply_effects(image, background, rng)


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


def _face_for_ink_height(path: Path, text: str, ink_height: float) -> ImageFont.FreeTypeFont:
    _, top, _, bottom = _raqm_font(path, REFERENCE_SIZE).getbbox(text)
    size = round(REFERENCE_SIZE * ink_height / max(bottom - top, 1))
    return _raqm_font(path, max(size, 8))


def _random_colours(rng: random.Random) -> tuple[RGB, RGB]:
    """(foreground, background): dark-ish on light-ish, sometimes inverted, each slightly tinted."""
    dark = _tinted(rng, rng.randint(0, 80))
    light = _tinted(rng, rng.randint(175, 255))
    return (light, dark) if rng.random() < INVERTED_PROBABILITY else (dark, light)


def _tinted(rng: random.Random, level: int) -> RGB:
    red, green, blue = (min(255, max(0, level + rng.randint(-25, 25))) for _ in range(3))
    return red, green, blue


def _draw_text(
    text: str,
    face: ImageFont.FreeTypeFont,
    margins: tuple[float, float, float, float],
    foreground: RGB,
    background: RGB,
    tracking: int = 0,
) -> Image.Image:
    pieces = _place_clusters(text, face, tracking) if tracking else [(text, 0)]
    left, top, right, bottom = _union_bbox(face, pieces)
    # At least 1 px each side: anti-aliasing can spill a pixel past the glyph box.
    pad_left, pad_top, pad_right, pad_bottom = (max(1, round(m * (bottom - top))) for m in margins)
    size = (right - left + pad_left + pad_right, bottom - top + pad_top + pad_bottom)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for piece, x in pieces:
        draw.text((pad_left - left + x, pad_top - top), piece, font=face, fill=foreground)
    return image


def text_clusters(text: str) -> list[str]:
    """``text`` cut before every character that is not a combining mark: a base and its marks stay together."""
    clusters: list[str] = []
    for ch in text:
        if clusters and is_combining(ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    return clusters


def _place_clusters(text: str, face: ImageFont.FreeTypeFont, tracking: int) -> list[tuple[str, float]]:
    """Each cluster with its pen position: its own advance plus ``tracking`` pixels after it."""
    pieces, x = [], 0.0
    for cluster in text_clusters(text):
        pieces.append((cluster, x))
        x += face.getlength(cluster) + tracking
    return pieces


def _union_bbox(face: ImageFont.FreeTypeFont, pieces: list[tuple[str, float]]) -> tuple[int, int, int, int]:
    """The box around every inked piece, offset by its pen position (spaces have no ink)."""
    boxes = [(face.getbbox(piece), x) for piece, x in pieces]
    inked = [(box, x) for box, x in boxes if box[1] < box[3]] or boxes
    return (
        math.floor(min(box[0] + x for box, x in inked)),
        min(box[1] for box, _ in inked),
        math.ceil(max(box[2] + x for box, x in inked)),
        max(box[3] for box, _ in inked),
    )


def _apply_effects(image: Image.Image, background: RGB, rng: random.Random) -> Image.Image:
    if rng.random() < 0.3:
        image = image.rotate(
            rng.uniform(-3.0, 3.0), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=background
        )
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.3:
        image = _change_brightness_contrast(image, rng)
    if rng.random() < 0.3:
        image = _add_gaussian_noise(image, rng)
    if rng.random() < 0.3:
        image = _jpeg_round_trip(image, rng.randint(30, 90))
    return image


def _change_brightness_contrast(image: Image.Image, rng: random.Random) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    return ImageEnhance.Contrast(image).enhance(rng.uniform(0.6, 1.3))


def _add_gaussian_noise(image: Image.Image, rng: random.Random) -> Image.Image:
    noise_rng = np.random.default_rng(rng.getrandbits(64))
    pixels = np.asarray(image, dtype=np.float32)
    # One value per pixel for all three channels: luminance noise, as a scanner or camera adds.
    noise = noise_rng.standard_normal((*pixels.shape[:2], 1), dtype=np.float32)
    pixels = pixels + noise * rng.uniform(3.0, 15.0)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")
