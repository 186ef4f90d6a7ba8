"""Degradations of synthetic text-line images: the effect chain and its array helpers.

:func:`apply_effects` runs a fixed chain, in the order a printed page meets them on its way to a
crop: a warp of the letter shapes (off unless a recipe turns it on: faces training never saw), ink
(bleed or erosion), toner speckle, rotation, perspective, shadow, uneven light, motion blur,
gaussian blur, downscale (resolution loss), tone (brightness, contrast, gamma), noise, binarisation,
JPEG. Each effect
fires with its own probability and draws its strengths from its own ranges: the sections of
:class:`~thaiocr.synth.effectsettings.EffectSettings`, which live apart in :mod:`thaiocr.synth.effectsettings`
(with the settings of the backgrounds and decorations of :mod:`thaiocr.synth.backgrounds`).

The output is RGB. Rotation grows the canvas to hold the rotated corners (``expand``);
perspective makes the canvas the bounding box of the warped corners, a few pixels larger or
smaller. Nothing is cropped; uncovered corners take the ``background`` colour. Every other effect
keeps the size. Randomness comes only from the ``random.Random`` passed in: the same seed gives the
same bytes in every process; an effect whose probability is 0 draws nothing, so a new effect left
off keeps the lines of older settings as they were. The chain works on uint8 arrays with Pillow
built-ins and integer numpy arithmetic, to fit the data engine's budget (``bench/effects_speed.py`` times it).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from thaiocr.synth.effectsettings import (
    DEFAULT_EFFECTS,
    Binarize,
    Blur,
    Downscale,
    EffectSettings,
    Ink,
    Jpeg,
    MotionBlur,
    Noise,
    Perspective,
    Rotation,
    Shadow,
    Speckle,
    Tone,
    UnevenLight,
    Warp,
)

RGB = tuple[int, int, int]

# --- the chain ----------------------------------------------------------------------------------

Effect = Callable[[np.ndarray, Any, RGB, random.Random], np.ndarray]


def apply_effects(
    image: Image.Image, background: RGB, rng: random.Random, settings: EffectSettings = DEFAULT_EFFECTS
) -> Image.Image:
    """The image after the chain of effects (order and size contracts in the module docstring).

    ``background`` is the paper colour: it fills corners uncovered by rotation or perspective,
    and tells whether the ink is darker or lighter than the paper.
    """
    pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    for name, effect in _CHAIN:
        section = getattr(settings, name)
        if section.probability and rng.random() < section.probability:
            pixels = effect(pixels, section, background, rng)
    return Image.fromarray(pixels)


def _warp(pixels: np.ndarray, warp: Warp, background: RGB, rng: random.Random) -> np.ndarray:
    """A mesh of cells whose shared corners move at random: strokes bend smoothly, nothing tears.
    Points on the border move only along it, so no ink near an edge is pushed off the canvas."""
    height, width = pixels.shape[:2]
    columns = max(1, round(width / (rng.uniform(*warp.cell) * height)))
    rows = rng.randint(*warp.rows)
    reach = rng.uniform(*warp.strength) * height
    xs = [width * i / columns for i in range(columns + 1)]
    ys = [height * j / rows for j in range(rows + 1)]
    moved = [[(x if i in (0, columns) else x + rng.uniform(-reach, reach),
               y if j in (0, rows) else y + rng.uniform(-reach, reach)) for j, y in enumerate(ys)]
             for i, x in enumerate(xs)]
    mesh = [((round(xs[i]), round(ys[j]), round(xs[i + 1]), round(ys[j + 1])),
             (*moved[i][j], *moved[i][j + 1], *moved[i + 1][j + 1], *moved[i + 1][j]))  # Pillow's quad order
            for i in range(columns) for j in range(rows)]
    image = Image.fromarray(pixels).transform(
        (width, height), Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR, fillcolor=background
    )
    return np.asarray(image)


def _ink(pixels: np.ndarray, ink: Ink, background: RGB, rng: random.Random) -> np.ndarray:
    thicken = rng.random() < ink.bleed_probability
    dark_ink = _luminance(background) >= 128
    # A 3x3 minimum spreads dark strokes over light paper; a maximum spreads light ones.
    spread = _spread(pixels, np.minimum if thicken == dark_ink else np.maximum)
    return _mix(pixels, spread, rng.uniform(*(ink.bleed if thicken else ink.erosion)))


def _speckle(pixels: np.ndarray, speckle: Speckle, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    count = round(rng.uniform(*speckle.density) * height * width / 10_000)
    ink = (0, 0, 0) if _luminance(background) >= 128 else (255, 255, 255)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for _ in range(count):
        x, y, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(*speckle.radius)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)
    return np.asarray(image)


def _rotation(pixels: np.ndarray, rotation: Rotation, background: RGB, rng: random.Random) -> np.ndarray:
    image = Image.fromarray(pixels).rotate(
        rng.uniform(*rotation.degrees), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=background
    )
    return np.asarray(image)


def _perspective(pixels: np.ndarray, perspective: Perspective, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    reach = rng.uniform(*perspective.shift) * height
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    moved = [(x + rng.uniform(-reach, reach), y + rng.uniform(-reach, reach)) for x, y in corners]
    left, top = min(x for x, _ in moved), min(y for _, y in moved)
    moved = [(x - left, y - top) for x, y in moved]
    size = (max(1, math.ceil(max(x for x, _ in moved))), max(1, math.ceil(max(y for _, y in moved))))
    image = Image.fromarray(pixels).transform(
        size,
        Image.Transform.PERSPECTIVE,
        _homography(moved, corners),
        resample=Image.Resampling.BILINEAR,
        fillcolor=background,
    )
    return np.asarray(image)


def _homography(targets: list[tuple[float, float]], sources: list[tuple[float, float]]) -> tuple[float, ...]:
    """Pillow's eight PERSPECTIVE coefficients that map each target point to its source point."""
    rows, values = [], []
    for (x, y), (u, v) in zip(targets, sources, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        values += [u, v]
    return tuple(np.linalg.solve(np.array(rows), np.array(values)).tolist())


def _shadow(pixels: np.ndarray, shadow: Shadow, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    angle = rng.uniform(0, 2 * math.pi)
    # Signed distance from an edge through a random point, in penumbra widths: 0..1 is the soft edge.
    x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
    penumbra = rng.uniform(*shadow.softness) * height
    columns = (np.arange(width, dtype=np.float32) - x0) * (math.cos(angle) / penumbra) + 0.5
    rows = (np.arange(height, dtype=np.float32) - y0) * (math.sin(angle) / penumbra)
    inside = np.clip(rows[:, None] + columns[None, :], 0, 1)
    return _shade(pixels, 1 - rng.uniform(*shadow.darkness) * inside)


def _uneven_light(pixels: np.ndarray, light: UnevenLight, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    xs, ys = np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = _unit_span(xs * math.cos(angle), ys * math.sin(angle))
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    vignette = _unit_span((xs - cx) ** 2, (ys - cy) ** 2)  # squared distance from a random centre
    share = rng.random()
    columns, rows = (share * r + (1 - share) * v for r, v in zip(ramp, vignette, strict=True))
    strength = rng.uniform(*light.strength)
    return _shade(pixels, (1 - strength * rows)[:, None] - (strength * columns)[None, :])


def _unit_span(columns: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column and row terms rescaled so that ``column + row`` spans 0..1 over the image.

    Ramps and squared distances are such sums, and so are their mixes: no whole-image arithmetic.
    """
    columns, rows = columns - columns.min(), rows - rows.min()
    extent = max(float(columns.max() + rows.max()), 1e-6)
    return columns / extent, rows / extent


def _motion_blur(pixels: np.ndarray, blur: MotionBlur, background: RGB, rng: random.Random) -> np.ndarray:
    length, angle = rng.uniform(*blur.length), math.radians(rng.uniform(*blur.degrees))
    steps = 2 * math.ceil(length) + 1
    taps: dict[tuple[int, int], float] = {}
    # Points along a segment centred on the pixel, each split bilinearly over its four neighbours.
    for step in range(steps):
        t = length * (step / (steps - 1) - 0.5)
        x, y = t * math.cos(angle), -t * math.sin(angle)
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        corners = {(y0, x0): (1 - fx) * (1 - fy), (y0, x0 + 1): fx * (1 - fy), (y0 + 1, x0): (1 - fx) * fy}
        for offset, weight in {**corners, (y0 + 1, x0 + 1): fx * fy}.items():
            taps[offset] = taps.get(offset, 0.0) + weight
    return _convolve(pixels, taps)


def _blur(pixels: np.ndarray, blur: Blur, background: RGB, rng: random.Random) -> np.ndarray:
    sigma = rng.uniform(*blur.sigma)
    radius = max(1, math.ceil(2 * sigma))  # two sigmas hold 95% of the weight
    weights = {k: math.exp(-(k * k) / (2 * sigma * sigma)) for k in range(-radius, radius + 1)}
    rows = _convolve(pixels, {(0, k): weight for k, weight in weights.items()})
    return _convolve(rows, {(k, 0): weight for k, weight in weights.items()})


def _downscale(pixels: np.ndarray, downscale: Downscale, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    factor = rng.uniform(*downscale.factor)
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = Image.fromarray(pixels).resize(small, Image.Resampling.BOX)
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))


def _tone(pixels: np.ndarray, tone: Tone, background: RGB, rng: random.Random) -> np.ndarray:
    levels = np.arange(256, dtype=np.float32) / 255
    curve = (levels ** rng.uniform(*tone.gamma) - 0.5) * rng.uniform(*tone.contrast) + 0.5
    table = np.clip(curve * rng.uniform(*tone.brightness) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.take(table, pixels)


# Standard normal quantiles at the centres of 256 equal-probability bins: a uniform random byte
# indexes them into a Gaussian draw (tails cut at 2.9 sigma), much faster than numpy's sampler.
_GAUSSIAN_BINS = np.array([NormalDist().inv_cdf((i + 0.5) / 256) for i in range(256)], dtype=np.float32)


def _noise(pixels: np.ndarray, noise: Noise, background: RGB, rng: random.Random) -> np.ndarray:
    height, width = pixels.shape[:2]
    table = np.round(_GAUSSIAN_BINS * rng.uniform(*noise.sigma)).astype(np.int16)
    draws = np.frombuffer(rng.randbytes(height * width), dtype=np.uint8).reshape(height, width)
    # One value per pixel for all three channels: luminance noise, as a scanner or camera adds.
    noisy = (pixels.astype(np.int16) + _per_channel(np.take(table, draws))).clip(0, 255).astype(np.uint8)
    if rng.random() < noise.salt_pepper_probability:
        _salt_and_pepper(noisy, rng.uniform(*noise.salt_pepper), rng)
    return noisy


def _salt_and_pepper(pixels: np.ndarray, amount: float, rng: random.Random) -> None:
    """Set about ``amount`` of the pixels to black or white, half each, in place."""
    flat = pixels.reshape(-1, 3)
    count = round(amount * len(flat))
    spots = np.frombuffer(rng.randbytes(4 * count), dtype=np.uint32) % len(flat)
    flat[spots[: count // 2]] = 0
    flat[spots[count // 2 :]] = 255


def _binarize(pixels: np.ndarray, binarize: Binarize, background: RGB, rng: random.Random) -> np.ndarray:
    luma = pixels.max(axis=2)  # the lightest channel: tinted ink on tinted paper still splits
    darkest, lightest = int(luma.min()), int(luma.max())
    threshold = darkest + rng.uniform(*binarize.level) * (lightest - darkest)
    return _per_channel(np.where(luma > threshold, 255, 0).astype(np.uint8))


def _jpeg(pixels: np.ndarray, jpeg: Jpeg, background: RGB, rng: random.Random) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=rng.randint(*jpeg.quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded)  # RGB in, RGB out


_CHAIN: tuple[tuple[str, Effect], ...] = (
    ("warp", _warp),
    ("ink", _ink),
    ("speckle", _speckle),
    ("rotation", _rotation),
    ("perspective", _perspective),
    ("shadow", _shadow),
    ("uneven_light", _uneven_light),
    ("motion_blur", _motion_blur),
    ("blur", _blur),
    ("downscale", _downscale),
    ("tone", _tone),
    ("noise", _noise),
    ("binarize", _binarize),
    ("jpeg", _jpeg),
)
CHAIN_ORDER = tuple(name for name, _ in _CHAIN)  # the effects of EffectSettings; the rest are backgrounds, decorations

# --- array helpers ------------------------------------------------------------------------------


def _luminance(colour: RGB) -> float:
    """Rec. 601 luma of an RGB colour, 0..255."""
    red, green, blue = colour
    return 0.299 * red + 0.587 * green + 0.114 * blue


def _shade(pixels: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Pixels times a ``[height, width]`` gain in 0..1, in 8-bit fixed point."""
    scale = _per_channel((gain * 256 + 0.5).astype(np.uint16))
    return ((pixels.astype(np.uint16) * scale) >> 8).astype(np.uint8)


def _per_channel(plane: np.ndarray) -> np.ndarray:
    """``[height, width]`` -> ``[height, width, 3]``: a copy is several times faster to use than a broadcast."""
    return np.stack((plane, plane, plane), axis=-1)


def _mix(first: np.ndarray, second: np.ndarray, share: float) -> np.ndarray:
    """``(1 - share) * first + share * second`` for uint8 arrays, in 8-bit fixed point."""
    weight = round(share * 256)
    total = first.astype(np.uint16) * (256 - weight) + second.astype(np.uint16) * weight + 128
    return (total >> 8).astype(np.uint8)


def _spread(pixels: np.ndarray, pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """A 3x3 minimum or maximum filter (``pick``), separable: rows then columns."""
    padded = _pad_edges(pixels, 1, 1)
    rows = pick(pick(padded[:-2], padded[1:-1]), padded[2:])
    return pick(pick(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _convolve(pixels: np.ndarray, taps: dict[tuple[int, int], float]) -> np.ndarray:
    """Weighted sum of shifted copies, ``{(dy, dx): weight}``, weights normalised to sum 1.

    Weights become integers summing to 256, so the sum of uint8 values fits uint16 exactly.
    """
    scale = 256 / sum(taps.values())
    weights = {offset: round(weight * scale) for offset, weight in taps.items()}
    heaviest = max(weights, key=weights.__getitem__)
    weights[heaviest] += 256 - sum(weights.values())
    ry = max(abs(dy) for dy, _ in weights)
    rx = max(abs(dx) for _, dx in weights)
    padded = _pad_edges(pixels, ry, rx).astype(np.uint16)
    height, width = pixels.shape[:2]
    total = np.full(pixels.shape, 128, dtype=np.uint16)  # rounds the final shift
    for (dy, dx), weight in weights.items():
        if weight:
            total += padded[ry + dy : ry + dy + height, rx + dx : rx + dx + width] * np.uint16(weight)
    return (total >> 8).astype(np.uint8)


def _pad_edges(pixels: np.ndarray, ry: int, rx: int) -> np.ndarray:
    """``pixels`` with ``ry`` rows and ``rx`` columns of repeated edge pixels on each side (np.pad is slow)."""
    height, width = pixels.shape[:2]
    padded = np.empty((height + 2 * ry, width + 2 * rx, *pixels.shape[2:]), dtype=pixels.dtype)
    padded[ry : ry + height, rx : rx + width] = pixels
    padded[:ry, rx : rx + width] = pixels[:1]
    padded[ry + height :, rx : rx + width] = pixels[-1:]
    padded[:, :rx] = padded[:, rx : rx + 1]
    padded[:, rx + width :] = padded[:, rx + width - 1 : rx + width]
    return padded
