"""Backgrounds to draw text lines on, and the decorations printed documents put around a line.

A renderer makes a background (:func:`make_background`: flat tint, gradient and/or paper
texture), calls :func:`decorate` with the box its text will occupy, draws the text, and passes the
result through :func:`thaiocr.synth.effects.apply_effects`. Probabilities and ranges come from the same
:class:`~thaiocr.synth.effectsettings.EffectSettings` as the effects.

Intruders are slices of a real rendered line, not procedural blobs: a detector's crop of a dense
page catches the upper vowels and tone marks of the line below and the descenders and lower
vowels of the line above, and those look like Thai marks: the model must learn to ignore them,
which dark blobs would not teach. The renderer passes a callable that renders the other line's
ink coverage, so the cost is paid only when a slice is drawn.

Decorations draw in place; every function takes the ``random.Random`` it draws from.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from thaiocr.synth.effects import RGB
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings, Gradient, Intruders, Paper, Rules, Underline

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), as Pillow's getbbox
BLOTCH_CELL = 12  # pixels between the random values behind the paper's low-frequency blotches
FIBRE_LENGTH = (4.0, 14.0)  # pixels


def make_background(
    size: tuple[int, int], colour: RGB, rng: random.Random, settings: EffectSettings = DEFAULT_EFFECTS
) -> Image.Image:
    """An RGB ``size`` (width, height) background around ``colour``: flat, or with a gradient and/or paper."""
    width, height = size
    tinted = rng.random() < settings.gradient.probability
    textured = rng.random() < settings.paper.probability
    if not (tinted or textured):
        return Image.new("RGB", size, colour)
    shifts = _gradient(height, width, settings.gradient, rng) if tinted else [None] * 3
    texture = _paper_texture(height, width, settings.paper, rng) if textured else None
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    for channel, level in enumerate(colour):
        pixels[..., channel] = _channel_plane(level, shifts[channel], texture)  # the cast truncates
    image = Image.fromarray(pixels)
    if textured:
        _draw_fibres(image, colour, rng.randint(*settings.paper.fibres), rng)
    return image


def _channel_plane(level: int, shift: tuple[np.ndarray, np.ndarray] | None, texture: np.ndarray | None) -> np.ndarray:
    """One channel as floats in 0..255: ``level`` (+0.5, so that truncation rounds), plus the
    gradient's ``(rows, columns)`` shift and the texture, whichever the line has (at least one).

    Planes, not [h, w, 3] arrays: numpy is several times slower on those.
    """
    base = np.float32(level + 0.5)
    if shift is None:
        return np.clip(texture + base, 0, 255)
    plane = np.add.outer(shift[0] + base, shift[1])
    if texture is not None:
        plane += texture
    return np.clip(plane, 0, 255, out=plane)


def _gradient(height: int, width: int, gradient: Gradient, rng: random.Random) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-channel (row, column) offsets along a random direction, ``spread`` apart end to end.

    A channel's offset at (y, x) is ``rows[y] + columns[x]``: the whole plane is one outer sum.
    """
    angle = rng.uniform(0, 2 * math.pi)
    columns = np.arange(width, dtype=np.float32) * math.cos(angle)
    rows = np.arange(height, dtype=np.float32) * math.sin(angle)
    # Position along the direction, -0.5..0.5 over the image, as a column term plus a row term.
    columns, rows = columns - columns.min(), rows - rows.min()
    extent = max(float(columns.max() + rows.max()), 1.0)
    columns, rows = columns / extent, rows / extent - 0.5
    spread = rng.uniform(*gradient.spread) * rng.choice((-1, 1))
    tints = [np.float32(spread * rng.uniform(0.7, 1.3)) for _ in range(3)]  # a slight hue shift
    return [(rows * tint, columns * tint) for tint in tints]


def _paper_texture(height: int, width: int, paper: Paper, rng: random.Random) -> np.ndarray:
    """Grey-level offsets ``[height, width]``: smooth blotches plus per-pixel grain, each within its amplitude."""
    grid = (width // BLOTCH_CELL + 2, height // BLOTCH_CELL + 2)
    # Random values BLOTCH_CELL pixels apart, smoothly interpolated by Pillow.
    coarse = Image.frombytes("L", grid, rng.randbytes(grid[0] * grid[1]))
    blotches = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC))
    blotch_amplitude = rng.uniform(*paper.blotches)
    grain = np.frombuffer(rng.randbytes(height * width), dtype=np.uint8).reshape(height, width)
    grain_amplitude = rng.uniform(*paper.grain)
    # Bytes 0..255 to -a..a for each amplitude a, summed.
    texture = blotches * np.float32(blotch_amplitude / 127.5)
    texture += grain * np.float32(grain_amplitude / 127.5)
    texture -= np.float32(blotch_amplitude + grain_amplitude)
    return texture


def _draw_fibres(image: Image.Image, colour: RGB, count: int, rng: random.Random) -> None:
    """Short, slightly bent hairlines a little darker (mostly) or lighter than the paper."""
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x, y = rng.uniform(0, image.width), rng.uniform(0, image.height)
        angle, half = rng.uniform(0, math.pi), rng.uniform(*FIBRE_LENGTH) / 2
        dx, dy = half * math.cos(angle), half * math.sin(angle)
        bend = rng.uniform(-0.3, 0.3) * half  # the midpoint's distance from the straight line
        middle = (x - bend * math.sin(angle), y + bend * math.cos(angle))
        shift = rng.randint(-25, 10)
        fill = tuple(min(255, max(0, channel + shift)) for channel in colour)
        draw.line([(x - dx, y - dy), middle, (x + dx, y + dy)], fill=fill, width=1)


# --- decorations --------------------------------------------------------------------------------


def decorate(
    image: Image.Image,
    ink_box: Box,
    ink: RGB,
    rng: random.Random,
    settings: EffectSettings = DEFAULT_EFFECTS,
    neighbour: Callable[[], Image.Image] | None = None,
) -> None:
    """Draw, each with its probability, an underline, table rules and a slice of a neighbouring line.

    ``ink_box`` is where the text is (or will be) drawn; ``neighbour`` returns another line's ink
    coverage (see :func:`paste_intruder`) and is called only when a slice is drawn; without it
    there are no intruders.
    """
    if rng.random() < settings.underline.probability:
        draw_underline(image, ink_box, ink, rng, settings.underline)
    if rng.random() < settings.rules.probability:
        draw_rules(image, ink_box, ink, rng, settings.rules)
    if rng.random() < settings.intruders.probability and neighbour is not None:
        paste_intruder(image, ink_box, neighbour(), ink, rng, settings.intruders)


def draw_underline(
    image: Image.Image, ink_box: Box, ink: RGB, rng: random.Random, underline: Underline = DEFAULT_EFFECTS.underline
) -> None:
    """A bar under the ink box, a ``gap`` below it (kept inside the image), overhanging it a little."""
    left, top, right, bottom = ink_box
    thickness = rng.randint(*underline.thickness)
    y = bottom + round(rng.uniform(*underline.gap) * (bottom - top))
    y = max(0, min(y, image.height - thickness))
    overhang = round(0.2 * (bottom - top))
    x0, x1 = max(0, left - rng.randint(0, overhang)), min(image.width, right + rng.randint(0, overhang))
    ImageDraw.Draw(image).rectangle((x0, y, x1 - 1, y + thickness - 1), fill=ink)


def draw_rules(
    image: Image.Image, ink_box: Box, ink: RGB, rng: random.Random, rules: Rules = DEFAULT_EFFECTS.rules
) -> None:
    """Full-length table rules in the margins: top, bottom or both, sometimes one vertical rule."""
    left, top, right, bottom = ink_box
    width, height = image.size
    thickness = rng.randint(*rules.thickness)
    draw = ImageDraw.Draw(image)
    edges = rng.choice(("top", "bottom", "both"))
    if edges != "bottom":
        y = _from_edge(top, thickness, rng)
        draw.rectangle((0, y, width - 1, y + thickness - 1), fill=ink)
    if edges != "top":
        y = height - thickness - _from_edge(height - bottom, thickness, rng)
        draw.rectangle((0, y, width - 1, y + thickness - 1), fill=ink)
    if rng.random() < rules.vertical_probability:
        if rng.random() < 0.5:
            x = _from_edge(left, thickness, rng)
        else:
            x = width - thickness - _from_edge(width - right, thickness, rng)
        draw.rectangle((x, 0, x + thickness - 1, height - 1), fill=ink)


def _from_edge(margin: int, thickness: int, rng: random.Random) -> int:
    """A rule's distance from the crop edge: anywhere in the margin, or 0 when the margin is too thin."""
    return rng.randint(0, max(0, margin - thickness))


def paste_intruder(
    image: Image.Image,
    ink_box: Box,
    coverage: Image.Image,
    ink: RGB,
    rng: random.Random,
    intruders: Intruders = DEFAULT_EFFECTS.intruders,
) -> None:
    """Paint a slice of another line at the top edge (its bottom) or the bottom edge (its top).

    ``coverage`` is that line rendered as an "L" mask, 255 where the ink is; its empty margins are
    trimmed first. The slice is ``height`` x this image's height but stays in the margin between
    the edge and ``ink_box`` (nothing is drawn when that margin is empty), at a random horizontal offset.
    """
    if coverage.mode != "L":
        raise ValueError(f"the neighbouring line must be an 'L' ink coverage mask, got mode {coverage.mode!r}")
    box = coverage.getbbox()
    if box is None:
        return
    line = coverage.crop(box)
    at_top = rng.random() < 0.5
    margin = ink_box[1] if at_top else image.height - ink_box[3]
    band = min(line.height, margin, max(1, round(rng.uniform(*intruders.height) * image.height)))
    if band < 1:
        return
    rows = (line.height - band, line.height) if at_top else (0, band)
    piece = line.crop((0, rows[0], line.width, rows[1]))
    free = image.width - piece.width
    x = rng.randint(min(0, free), max(0, free))
    y = 0 if at_top else image.height - band
    image.paste(ink, (x, y, x + piece.width, y + band), mask=piece)
