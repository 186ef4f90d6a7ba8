"""Text-line detection on page images: the :class:`Detector` interface and its DB backends.

A detector takes a page and returns :class:`TextRegion` quadrilaterals in page pixels. The
backends are DB (differentiable binarisation) networks in ONNX: PaddleOCR's PP-OCRv4 mobile
detector, whose file ships inside the ``rapidocr-onnxruntime`` 1.4.4 wheel, PaddleOCR's PP-OCRv6
small detector, whose file ships inside the ``rapidocr`` 3.10 wheel, and thaiocr's own
(``thaiocr det train``, det/train.py), whose file carries in its metadata the post-processing
settings it was tuned with. Only the model files of the two wheels are used (they are installed
with ``--no-deps`` and never imported: their packages need OpenCV).

Pre-processing follows PaddleOCR's DB inference (sides resized to multiples of 32 within a limit,
BGR, a per-model mean and std, NCHW). Post-processing is written here with NumPy and Pillow only:
threshold the probability map (optionally dilated by a 2 x 2 square, as PP-OCRv6's recipe does),
label connected components (runs of pixels joined across rows), fit a minimum-area rectangle to
each (rotating calipers on the convex hull), score it by the mean probability inside, grow it by
the DB unclip offset, and scale it back to the page.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from thaiocr.errors import ThaiOCRError, did_you_mean
from thaiocr.onnxmodel import cpu_session

PPOCRV4_WHEEL = "rapidocr_onnxruntime"
PPOCRV4_FILE = "models/ch_PP-OCRv4_det_infer.onnx"
PPOCRV4_INSTALL = "pip install --no-deps rapidocr-onnxruntime==1.4.4"
PPOCRV6_WHEEL = "rapidocr"
PPOCRV6_FILE = "models/PP-OCRv6_det_small.onnx"
PPOCRV6_INSTALL = "pip install --no-deps rapidocr==3.10.*"
THAIOCR_DB_FILE = "det_db_mobilenet.onnx"  # in the package's resources/
DET_ONNX_FORMAT = "thaiocr-det-onnx/1"  # the ``thaiocr`` metadata of a detector exported by det/train.py
# PaddleOCR's DB normalisation, applied to the B, G, R channels in that order, as PaddleOCR does.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# RapidOCR's normalisation for its detectors (config.yaml, Det.mean and Det.std): x / 255 to [-1, 1].
HALF = np.array([0.5, 0.5, 0.5], dtype=np.float32)
STRIDE = 32  # the network downsamples five times: sides must be multiples of 32


@dataclass(frozen=True)
class TextRegion:
    """A detected text line: four corners clockwise from the top-left, in page pixels."""

    quad: np.ndarray  # float32 [4, 2] of (x, y)
    score: float


class Detector(Protocol):
    """Finds text lines on a page."""

    name: str

    def __call__(self, image: Image.Image) -> list[TextRegion]: ...


@dataclass(frozen=True)
class DBSettings:
    """DB inference settings; the defaults are PaddleOCR's for PP-OCRv4 (limit 960, longest side)."""

    limit_side_len: int = 960  # the longer side is scaled down to at most this
    thresh: float = 0.3  # probability above which a map pixel is text
    box_thresh: float = 0.6  # mean probability a box needs to be kept
    unclip_ratio: float = 1.5
    min_size: int = 3  # map pixels: shorter boxes are noise
    max_candidates: int = 1000
    use_dilation: bool = False  # dilate the thresholded map by a 2 x 2 square before finding components


class DBDetector:
    """A DB text detector in ONNX: ``[1, 3, H, W]`` image -> ``[1, 1, H, W]`` text probability.

    ``mean`` and ``std`` normalise the BGR input scaled to 0..1 (ImageNet's by default, as
    PaddleOCR's PP-OCRv4 recipe and thaiocr's detector have it).
    """

    def __init__(self, run: Callable[[np.ndarray], np.ndarray], settings: DBSettings, name: str,
                 mean: np.ndarray = IMAGENET_MEAN, std: np.ndarray = IMAGENET_STD) -> None:
        self._run = run
        self.settings = settings
        self.name = name
        self.mean, self.std = mean, std

    @classmethod
    def from_onnx(cls, path: Path, name: str, settings: DBSettings | None = None,
                  num_threads: int | None = None, mean: np.ndarray = IMAGENET_MEAN,
                  std: np.ndarray = IMAGENET_STD) -> DBDetector:
        """``settings`` None: those in a thaiocr detector's metadata, else PaddleOCR's (:class:`DBSettings`)."""
        session = cpu_session(Path(path), num_threads or min(2, os.cpu_count() or 1))
        input_name = session.get_inputs()[0].name

        def run(batch: np.ndarray) -> np.ndarray:
            return session.run(None, {input_name: batch})[0]

        metadata = session.get_modelmeta().custom_metadata_map.get("thaiocr")
        return cls(run, settings or exported_settings(metadata, Path(path)) or DBSettings(), name, mean, std)

    def probability_map(self, image: Image.Image) -> np.ndarray:
        """The network's text probability, ``[h, w]`` float32 at the resized input's size."""
        return self._run(db_input(image, self.settings.limit_side_len, self.mean, self.std))[0, 0]

    def __call__(self, image: Image.Image) -> list[TextRegion]:
        image = image.convert("RGB")
        prob = self.probability_map(image)
        scale = np.array([image.width / prob.shape[1], image.height / prob.shape[0]], dtype=np.float32)
        limits = np.array([image.width, image.height], dtype=np.float32)
        return [TextRegion(np.clip(quad * scale, 0, limits), score) for quad, score in db_boxes(prob, self.settings)]


# --- the PaddleOCR backends (model files inside RapidOCR wheels) ---------------------------------


def wheel_model_path(package: str, file: str, install: str) -> Path:
    """A model file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / file
        if path.is_file():
            return path
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise ThaiOCRError(f"the detector {file} was not found{where}: install the wheel that ships it with "
                       f"`{install}` (make setup does)")


def ppocrv4_model_path() -> Path:
    """The PP-OCRv4 mobile detector inside the installed ``rapidocr-onnxruntime`` wheel."""
    return wheel_model_path(PPOCRV4_WHEEL, PPOCRV4_FILE, PPOCRV4_INSTALL)


def ppocrv6_model_path() -> Path:
    """The PP-OCRv6 small detector inside the installed ``rapidocr`` 3.10 wheel."""
    return wheel_model_path(PPOCRV6_WHEEL, PPOCRV6_FILE, PPOCRV6_INSTALL)


def _ppocrv4(settings: DBSettings | None, num_threads: int | None) -> Detector:
    return DBDetector.from_onnx(ppocrv4_model_path(), "ppocrv4", settings, num_threads)


# RapidOCR 3.10's config.yaml for this model: mean and std 0.5 (kept: ImageNet's scored lower),
# thresh 0.3, box_thresh 0.5, unclip ratio 1.6, a 2 x 2 dilation of the thresholded map, and the
# shorter side raised to at least 736 (``limit_type: min``: an A4 page at 150-200 dpi runs at full
# size). On synthetic tuning pages in training fonts (bench/det_settings.py, none of the pages that
# judge it) its boxes were too loose for its unclip and dilation: H-mean at IoU 0.5, 0.794 with
# RapidOCR's settings at limit 1280, 0.972 with these; limit 960 (the longer side, as for PP-OCRv4)
# scored as well as 1280 in 2/3 of the time. See docs/page_benchmark.md.
PPOCRV6_SETTINGS = DBSettings(limit_side_len=960, thresh=0.3, box_thresh=0.5, unclip_ratio=1.0)


def _ppocrv6(settings: DBSettings | None, num_threads: int | None) -> Detector:
    return DBDetector.from_onnx(ppocrv6_model_path(), "ppocrv6", settings or PPOCRV6_SETTINGS, num_threads,
                                mean=HALF, std=HALF)


# --- thaiocr's own backend ----------------------------------------------------------------------


def exported_settings(metadata: str | None, path: Path) -> DBSettings | None:
    """The DB settings in a model's ``thaiocr`` metadata entry; None for a model without one."""
    if metadata is None:
        return None
    try:
        description = json.loads(metadata)
        if description.get("format") != DET_ONNX_FORMAT:
            raise ThaiOCRError(f"{path}: not a text detector (its thaiocr metadata is {description.get('format')!r}, "
                               f"a detector's is {DET_ONNX_FORMAT!r})")
        return DBSettings(**description["postprocess"])
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise ThaiOCRError(f"{path}: unreadable detector metadata ({exc})") from None


def thaiocr_db_model_path() -> Path:
    """thaiocr's DB detector (configs/det/db_mobilenet.yml) in the package's resources."""
    path = Path(__file__).parent.parent / "resources" / THAIOCR_DB_FILE
    if not path.is_file():
        raise ThaiOCRError(f"thaiocr's DB detector {path} is missing: train one with `thaiocr det train -c "
                           "configs/det/db_mobilenet.yml` and give its best_model/inference.onnx as the detector")
    return path


def _thaiocr_db(settings: DBSettings | None, num_threads: int | None) -> Detector:
    return DBDetector.from_onnx(thaiocr_db_model_path(), "thaiocr-db", settings, num_threads)


DETECTORS: dict[str, Callable[[DBSettings | None, int | None], Detector]] = {
    "ppocrv4": _ppocrv4, "ppocrv6": _ppocrv6, "thaiocr-db": _thaiocr_db}
# Page OCR's detector unless one is named: the measured best (docs/page_benchmark.md).
DEFAULT_DETECTOR = "ppocrv4"


def load_detector(name: str = DEFAULT_DETECTOR, settings: DBSettings | None = None,
                  num_threads: int | None = None) -> Detector:
    """A detector by name (see :data:`DETECTORS`); ``num_threads`` defaults to min(2, CPU count)."""
    if name not in DETECTORS:
        raise ThaiOCRError(f"unknown detector {name!r}{did_you_mean(name, DETECTORS)}")
    return DETECTORS[name](settings, num_threads)


# --- pre-processing -----------------------------------------------------------------------------


def db_input_size(width: int, height: int, limit_side_len: int) -> tuple[int, int]:
    """``(width, height)`` scaled so the longer side is at most the limit, each a multiple of 32."""
    ratio = min(1.0, limit_side_len / max(width, height))
    return (max(STRIDE, round(width * ratio / STRIDE) * STRIDE),
            max(STRIDE, round(height * ratio / STRIDE) * STRIDE))


def db_input(image: Image.Image, limit_side_len: int, mean: np.ndarray = IMAGENET_MEAN,
             std: np.ndarray = IMAGENET_STD) -> np.ndarray:
    """RGB page -> float32 ``[1, 3, H, W]``: resized, BGR, normalised (ImageNet's mean and std by default)."""
    size = db_input_size(image.width, image.height, limit_side_len)
    pixels = np.asarray(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    bgr = pixels[:, :, ::-1] / 255.0
    return ((bgr - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)


# --- post-processing ----------------------------------------------------------------------------


def db_boxes(prob: np.ndarray, settings: DBSettings = DBSettings()) -> list[tuple[np.ndarray, float]]:
    """``(quad, score)`` per text region of a probability map, in map pixel coordinates.

    Coordinates are those of pixel centres (pixel ``(x, y)`` spans ``x - 0.5 .. x + 0.5``), as
    PaddleOCR's contours are, so that its unclip ratio means the same here.
    """
    mask = prob > settings.thresh
    if settings.use_dilation:
        mask = dilate2x2(mask)
    boxes = []
    for outline in component_outlines(mask)[: settings.max_candidates]:
        hull = convex_hull(outline)
        if len(hull) < 3:
            continue
        rect = min_area_rect(hull)
        if min(rect_sides(rect)) < settings.min_size:
            continue
        score = mean_inside(prob, rect)
        if score < settings.box_thresh:
            continue
        grown = unclip(rect, settings.unclip_ratio)
        if min(rect_sides(grown)) < settings.min_size + 2:
            continue
        boxes.append((order_corners(grown), score))
    return boxes


def dilate2x2(mask: np.ndarray) -> np.ndarray:
    """A boolean map dilated by a 2 x 2 square anchored at its lower right, as OpenCV's ``dilate``
    with a 2 x 2 kernel does: a pixel is set when it, its upper, left or upper-left neighbour is."""
    grown = mask.copy()
    grown[1:, :] |= mask[:-1, :]
    grown[:, 1:] |= mask[:, :-1]
    grown[1:, 1:] |= mask[:-1, :-1]
    return grown


def pixel_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, first column, last column)`` of every horizontal run of True, in row-major order."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    return rows, starts, ends - 1


def label_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """A component label per run: runs in adjacent rows that touch (8-connectivity) share one.

    Touching pairs come from binary searches on row-major keys; labels then spread as the minimum
    run index over the pairs, with pointer jumping, until nothing changes (a few dozen vectorised
    passes for a page), instead of a Python loop over pixels.
    """
    stride = width + 2  # keys of different rows can never meet, even one column outside the image
    start_keys, end_keys = rows * stride + starts, rows * stride + ends
    below = (rows + 1) * stride
    first = np.searchsorted(end_keys, below + starts - 1, side="left")
    last = np.searchsorted(start_keys, below + ends + 1, side="right")
    counts = np.maximum(last - first, 0)
    upper = np.repeat(np.arange(len(rows)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    lower = np.repeat(first, counts) + offsets
    labels = np.arange(len(rows))
    while True:
        low = np.minimum(labels[upper], labels[lower])
        updated = labels.copy()
        np.minimum.at(updated, labels[upper], low)
        np.minimum.at(updated, labels[lower], low)
        updated = updated[updated]
        if np.array_equal(updated, labels):
            return labels
        labels = updated


def component_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Per 8-connected component of ``mask``, the pixel centres that bound it: the first and last
    pixel of each of its rows (enough for its convex hull). Largest components first."""
    rows, starts, ends = pixel_runs(mask)
    if len(rows) == 0:
        return []
    labels = label_runs(rows, starts, ends, mask.shape[1])
    order = np.lexsort((rows, labels))
    labels, rows, starts, ends = labels[order], rows[order], starts[order], ends[order]
    # One entry per (component, row): the leftmost start and the rightmost end.
    new_row = np.ones(len(rows), dtype=bool)
    new_row[1:] = (labels[1:] != labels[:-1]) | (rows[1:] != rows[:-1])
    at = np.flatnonzero(new_row)
    left, right = np.minimum.reduceat(starts, at), np.maximum.reduceat(ends, at)
    row_of, label_of = rows[at], labels[at]
    splits = np.flatnonzero(label_of[1:] != label_of[:-1]) + 1
    outlines = [np.concatenate([np.stack([lx, ry], 1), np.stack([rx, ry], 1)]).astype(np.float32)
                for lx, rx, ry in zip(np.split(left, splits), np.split(right, splits), np.split(row_of, splits),
                                      strict=True)]
    return sorted(outlines, key=len, reverse=True)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of ``[n, 2]`` points, counter-clockwise in (x, y) (Andrew's monotone chain)."""
    ordered = points[np.lexsort((points[:, 1], points[:, 0]))]
    unique = [tuple(p) for p in ordered[np.r_[True, np.any(ordered[1:] != ordered[:-1], axis=1)]].tolist()]
    if len(unique) < 3:
        return np.array(unique, dtype=np.float32).reshape(-1, 2)
    lower, upper = _half_hull(unique), _half_hull(unique[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=np.float32)


def _half_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points that turn left all the way along (plain floats: a Python loop over NumPy scalars is slow)."""
    kept: list[tuple[float, float]] = []
    for x, y in points:
        while len(kept) >= 2:
            (ox, oy), (ax, ay) = kept[-2], kept[-1]
            if (ax - ox) * (y - oy) - (ay - oy) * (x - ox) > 0:
                break
            kept.pop()
        kept.append((x, y))
    return kept


def min_area_rect(hull: np.ndarray) -> np.ndarray:
    """The smallest-area rectangle around a convex hull, as 4 corners (rotating calipers: one side
    of the best rectangle lies along an edge of the hull, so only the edge directions are tried)."""
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.linalg.norm(edges, axis=1)
    if not lengths.any():  # a single point
        return np.repeat(hull[:1], 4, axis=0).astype(np.float32)
    along = edges[lengths > 0] / lengths[lengths > 0, None]
    across = np.stack([-along[:, 1], along[:, 0]], axis=1)
    u, v = hull @ along.T, hull @ across.T  # [points, directions]
    areas = (u.max(0) - u.min(0)) * (v.max(0) - v.min(0))
    best = int(np.argmin(areas))
    a, b = along[best], across[best]
    u0, u1, v0, v1 = u[:, best].min(), u[:, best].max(), v[:, best].min(), v[:, best].max()
    return np.array([u0 * a + v0 * b, u1 * a + v0 * b, u1 * a + v1 * b, u0 * a + v1 * b], dtype=np.float32)


def rect_sides(rect: np.ndarray) -> tuple[float, float]:
    return float(np.linalg.norm(rect[1] - rect[0])), float(np.linalg.norm(rect[3] - rect[0]))


def polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2


def unclip(rect: np.ndarray, ratio: float) -> np.ndarray:
    """The rectangle pushed out on every side by DB's offset ``area * ratio / perimeter``.

    For a rectangle this is what offsetting the polygon and fitting a rectangle again gives.
    """
    width, height = rect_sides(rect)
    distance = polygon_area(rect) * ratio / max(2 * (width + height), 1e-6)
    along = (rect[1] - rect[0]) / max(width, 1e-6)
    across = (rect[3] - rect[0]) / max(height, 1e-6)
    shift = np.stack([-along - across, along - across, along + across, -along + across]) * distance
    return (rect + shift).astype(np.float32)


def mean_inside(prob: np.ndarray, quad: np.ndarray) -> float:
    """Mean probability over the map pixels whose centres lie in the (convex, clockwise) quad."""
    x0, y0 = np.floor(quad.min(0)).astype(int).clip(0)
    x1 = min(int(np.ceil(quad[:, 0].max())), prob.shape[1] - 1)
    y1 = min(int(np.ceil(quad[:, 1].max())), prob.shape[0] - 1)
    if x1 < x0 or y1 < y0:
        return 0.0
    xs, ys = np.arange(x0, x1 + 1, dtype=np.float32), np.arange(y0, y1 + 1, dtype=np.float32)[:, None]
    inside = np.ones((len(ys), len(xs)), dtype=bool)
    corners = order_corners(quad)
    for (ax, ay), (bx, by) in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        inside &= (bx - ax) * (ys - ay) - (by - ay) * (xs - ax) >= -1e-3  # on the right of each edge, y down
    return float(prob[y0 : y1 + 1, x0 : x1 + 1][inside].mean()) if inside.any() else 0.0


def order_corners(quad: np.ndarray) -> np.ndarray:
    """Corners clockwise from the top-left (image y down): the two leftmost make the left side."""
    by_x = quad[np.argsort(quad[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1], kind="stable")]
    top_right, bottom_right = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)
