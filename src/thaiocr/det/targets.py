"""Training samples for the DB detector: pages from det label files, random crops, and DB's target maps.

Targets are written with NumPy alone, for convex polygons (a label's four points):

- **probability / binary map**: 1 on the box shrunk by a distance ``D``, 0 elsewhere; a mask
  leaves out boxes marked ``###`` (PaddleOCR's don't-care) and boxes too small to learn from.
- **threshold map**: ``thresh_max`` on the box's edges falling to ``thresh_min`` at distance
  ``D`` from them, inside the box grown by ``D``; ``thresh_min`` elsewhere, where its mask is 0.

A point is inside a convex polygon shrunk (grown) by ``d`` exactly when its signed distance to
every edge's line is at least ``d`` (``-d``), so the offset polygons are never built.

``D`` is not DB's ``A(1 - r^2)/L``: with ``r = 0.4`` that shrinks a text line (long and thin) to
0.18 of its height, and the unclip of det/detector.py's post-processing (ratio 1.5, PaddleOCR's) grows
that back to only 0.45 of it, below an IoU of 0.5 with the label. Here ``D`` is the distance that
this unclip undoes: the offset ``d`` of a rectangle with area ``A`` and perimeter ``L`` such that
unclipping the shrunk rectangle (``ratio * area / perimeter``) moves its sides out by ``d`` again,
which is the smaller root of ``(4u + 8) d^2 - (u + 1) L d + u A = 0``. It equals DB's formula
with ``r`` from 0.38 (a square) to 0.62 (a long line).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from thaiocr.det.detector import IMAGENET_MEAN, IMAGENET_STD
from thaiocr.det.labels import parse_det_row
from thaiocr.det.metrics import signed_area
from thaiocr.errors import ThaiOCRError

IGNORE_TEXT = "###"  # PaddleOCR's mark for a box that is neither text nor background
# The post-processing fits its rectangle to the centres of the pixels above the threshold, which
# span one pixel less than the region they tile: the shrunk region is grown by half a pixel a side.
CENTRE_ALLOWANCE = 0.5


@dataclass(frozen=True)
class DetBox:
    polygon: np.ndarray  # float32 [4, 2] of (x, y), image pixels
    ignore: bool = False


@dataclass(frozen=True)
class DetPage:
    image: Path
    boxes: list[DetBox]


@dataclass(frozen=True)
class TargetSettings:
    unclip_ratio: float = 1.5
    min_text_size: float = 6.0
    thresh_min: float = 0.3
    thresh_max: float = 0.7


@dataclass(frozen=True)
class DetTargets:
    """The maps of one crop, float32 ``[H, W]`` each."""

    shrink: np.ndarray
    shrink_mask: np.ndarray
    threshold: np.ndarray
    threshold_mask: np.ndarray


# --- reading and checking label files -----------------------------------------------------------


def read_det_pages(label_files: Sequence[Path]) -> list[DetPage]:
    """Every page of the det label files, checked: a readable image, four points a box, inside it.

    Problems stop the load with the label file, its line and the box at fault.
    """
    pages = []
    for label_file in label_files:
        try:
            rows = Path(label_file).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise ThaiOCRError(f"{label_file}: label file not found") from None
        for number, row in enumerate(rows, start=1):
            if row.strip():
                image, boxes = parse_det_row(row, Path(label_file), number)
                where = f"{label_file}:{number}"
                size = _image_size(image, where)
                pages.append(DetPage(image, [_checked_box(box.points, box.text, size, f"{where}: box {i + 1}")
                                             for i, box in enumerate(boxes)]))
    return pages


def _image_size(path: Path, where: str) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise ThaiOCRError(f"{where}: image {path} not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ThaiOCRError(f"{where}: image {path} cannot be read ({exc})") from None


def _checked_box(points: Sequence[tuple[int, int]], text: str, size: tuple[int, int], where: str) -> DetBox:
    polygon = np.array(points, dtype=np.float32).reshape(-1, 2)
    if len(polygon) != 4:
        raise ThaiOCRError(f"{where}: expected 4 points, got {len(polygon)}")
    if polygon.min() < 0 or polygon[:, 0].max() > size[0] or polygon[:, 1].max() > size[1]:
        raise ThaiOCRError(f"{where}: points {polygon.astype(int).tolist()} lie outside the "
                           f"{size[0]}x{size[1]} image")
    if abs(signed_area(polygon)) == 0:
        raise ThaiOCRError(f"{where}: the box {polygon.astype(int).tolist()} has no area")
    return DetBox(polygon, ignore=text == IGNORE_TEXT)


# --- geometry -----------------------------------------------------------------------------------


def shrink_distance(polygon: np.ndarray, unclip_ratio: float) -> float:
    """The offset that det/detector.py's unclip at ``unclip_ratio`` undoes (exact for rectangles; see above)."""
    area, perimeter = abs(signed_area(polygon)), float(np.linalg.norm(np.roll(polygon, -1, 0) - polygon, axis=1).sum())
    u = unclip_ratio
    a, b = 4 * u + 8, (u + 1) * perimeter
    return (b - math.sqrt(max(b * b - 4 * a * u * area, 0.0))) / (2 * a)


def short_side(polygon: np.ndarray) -> float:
    """The mean length of the shorter pair of opposite sides of a quad: its text height."""
    sides = np.linalg.norm(np.roll(polygon, -1, 0) - polygon, axis=1)
    return float(min(sides[0] + sides[2], sides[1] + sides[3]) / 2)


def edge_distances(polygon: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points on the grid ``xs`` x ``ys``: the signed distance to every edge's line (positive
    inside; their minimum is the depth inside the polygon) and the distance to the nearest edge.

    Shapes: ``[edges, len(ys), len(xs)]`` and ``[len(ys), len(xs)]``.
    """
    polygon = polygon.astype(np.float64)
    if signed_area(polygon) < 0:
        polygon = polygon[::-1]
    starts, edges = polygon, np.roll(polygon, -1, 0) - polygon
    lengths = np.maximum(np.linalg.norm(edges, axis=1), 1e-9)
    dx = xs[None, None, :] - starts[:, 0, None, None]
    dy = ys[None, :, None] - starts[:, 1, None, None]
    ex, ey = edges[:, 0, None, None], edges[:, 1, None, None]
    signed = (ex * dy - ey * dx) / lengths[:, None, None]  # left of the edge is inside (counter-clockwise)
    along = np.clip((dx * ex + dy * ey) / (lengths ** 2)[:, None, None], 0, 1)
    nearest = np.hypot(dx - along * ex, dy - along * ey).min(axis=0)
    return signed, nearest


# --- target maps --------------------------------------------------------------------------------


def make_targets(boxes: Sequence[DetBox], size: tuple[int, int], settings: TargetSettings = TargetSettings()
                 ) -> DetTargets:
    """The DB targets of an image of ``size`` (width, height) whose boxes are in pixel coordinates
    (pixel centres at integers); boxes may reach past the image."""
    width, height = size
    shrink = np.zeros((height, width), dtype=np.float32)
    shrink_mask = np.ones((height, width), dtype=np.float32)
    border = np.zeros((height, width), dtype=np.float32)
    border_mask = np.zeros((height, width), dtype=np.float32)
    for box in boxes:
        distance = shrink_distance(box.polygon, settings.unclip_ratio)
        window = _window(box.polygon, distance, size)
        if window is None:
            continue
        x0, y0, x1, y1 = window
        signed, nearest = edge_distances(box.polygon, np.arange(x0, x1, dtype=np.float64),
                                         np.arange(y0, y1, dtype=np.float64))
        depth = signed.min(axis=0)
        core = depth >= distance - CENTRE_ALLOWANCE
        if box.ignore or short_side(box.polygon) < settings.min_text_size or not core.any():
            shrink_mask[y0:y1, x0:x1][depth >= 0] = 0
            continue
        shrink[y0:y1, x0:x1][core] = 1
        grown = depth >= -distance
        closeness = np.where(grown, 1 - np.clip(nearest / max(distance, 1e-6), 0, 1), 0).astype(np.float32)
        np.maximum(border[y0:y1, x0:x1], closeness, out=border[y0:y1, x0:x1])
        border_mask[y0:y1, x0:x1][grown] = 1
    threshold = border * (settings.thresh_max - settings.thresh_min) + settings.thresh_min
    return DetTargets(shrink, shrink_mask, threshold, border_mask)


def _window(polygon: np.ndarray, distance: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The pixels of the image within ``distance`` of the polygon's bounding box, or None."""
    x0 = max(0, math.floor(polygon[:, 0].min() - distance))
    y0 = max(0, math.floor(polygon[:, 1].min() - distance))
    x1 = min(size[0], math.ceil(polygon[:, 0].max() + distance) + 1)
    y1 = min(size[1], math.ceil(polygon[:, 1].max() + distance) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


# --- samples ------------------------------------------------------------------------------------


def normalize_bgr(image: Image.Image) -> np.ndarray:
    """RGB image -> float32 ``[3, H, W]``: BGR, ImageNet-normalised, as detect.db_input does."""
    bgr = np.asarray(image.convert("RGB"), dtype=np.float32)[:, :, ::-1] / 255.0
    return ((bgr - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)


def random_crop(image: Image.Image, boxes: Sequence[DetBox], rng: random.Random, scale: Sequence[float],
                crop_size: Sequence[int]) -> tuple[Image.Image, list[DetBox]]:
    """The page scaled by a random factor in ``scale``, a random ``crop_size`` window of it, and
    the boxes moved with it. Where the scaled page is smaller than the window, the rest is filled
    with the colour of the page's top-left pixel."""
    factor = rng.uniform(*scale)
    scaled = (round(image.width * factor), round(image.height * factor))
    width, height = min(crop_size[0], scaled[0]), min(crop_size[1], scaled[1])
    left, top = rng.randint(0, scaled[0] - width), rng.randint(0, scaled[1] - height)
    region = (left / factor, top / factor, min(image.width, (left + width) / factor),
              min(image.height, (top + height) / factor))
    part = image.resize((width, height), Image.Resampling.BILINEAR, box=region)
    if (width, height) != tuple(crop_size):
        canvas = Image.new("RGB", tuple(crop_size), image.getpixel((0, 0)))
        canvas.paste(part, (0, 0))
        part = canvas
    offset = np.array([left, top], dtype=np.float32)
    return part, [DetBox(box.polygon * factor - offset, box.ignore) for box in boxes]


class DetSamples:
    """Training samples: ``samples[i]`` is a random crop of page ``i`` and its targets, as arrays
    ``(image [3, H, W], shrink, shrink_mask, threshold, threshold_mask)``.

    The crop depends only on ``(seed, epoch, i)``: set ``epoch`` for new crops every epoch.
    """

    def __init__(self, pages: Sequence[DetPage], scale: Sequence[float], crop_size: Sequence[int],
                 settings: TargetSettings, seed: int = 0) -> None:
        self.pages, self.scale, self.crop_size = list(pages), tuple(scale), tuple(crop_size)
        self.settings, self.seed, self.epoch = settings, seed, 0

    def __len__(self) -> int:
        return len(self.pages)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        page = self.pages[index]
        rng = random.Random(f"{self.seed}/{self.epoch}/{index}")
        with Image.open(page.image) as image:
            crop, boxes = random_crop(image.convert("RGB"), page.boxes, rng, self.scale, self.crop_size)
        targets = make_targets(boxes, crop.size, self.settings)
        return (normalize_bgr(crop), targets.shrink, targets.shrink_mask, targets.threshold, targets.threshold_mask)
