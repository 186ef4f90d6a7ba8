"""Detection and page metrics: precision, recall and H-mean of text-line boxes at an IoU threshold,
and the character error rate of a page's text in reading order.

Boxes are convex quadrilaterals (a detector's rectangles, a label's four points); their IoU is
exact, from a polygon clip (Sutherland-Hodgman: clipping one convex polygon by another). A
detection matches at most one label and the other way round, best IoU first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from thaiocr.charset import normalize_text

IOU_THRESHOLD = 0.5


def signed_area(polygon: np.ndarray) -> float:
    """Positive when the corners run counter-clockwise in (x, y) axes."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def _counter_clockwise(polygon: np.ndarray) -> np.ndarray:
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    return polygon[::-1] if signed_area(polygon) < 0 else polygon


def clip_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """The part of ``subject`` inside the convex polygon ``clip`` (both counter-clockwise)."""
    output = list(subject)
    for a, b in zip(clip, np.roll(clip, -1, axis=0), strict=True):
        if not output:
            break
        edge = b - a
        points, output = output, []
        for p, q in zip(points, points[1:] + points[:1], strict=True):
            p_in = edge[0] * (p[1] - a[1]) - edge[1] * (p[0] - a[0]) >= 0
            q_in = edge[0] * (q[1] - a[1]) - edge[1] * (q[0] - a[0]) >= 0
            if p_in:
                output.append(p)
            if p_in != q_in:
                output.append(_crossing(p, q, a, b))
    return np.array(output, dtype=np.float64).reshape(-1, 2)


def _crossing(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where segment p-q crosses the line through a and b."""
    direction, edge = q - p, b - a
    denominator = direction[0] * edge[1] - direction[1] * edge[0]
    t = ((a[0] - p[0]) * edge[1] - (a[1] - p[1]) * edge[0]) / denominator
    return p + t * direction


def quad_iou(first: np.ndarray, second: np.ndarray) -> float:
    """Intersection over union of two convex polygons (any corner order, either direction)."""
    a, b = _counter_clockwise(first), _counter_clockwise(second)
    area_a, area_b = signed_area(a), signed_area(b)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    low = np.maximum(a.min(0), b.min(0))
    high = np.minimum(a.max(0), b.max(0))
    if np.any(low >= high):  # the bounding boxes do not even touch
        return 0.0
    inter = clip_polygon(a, b)
    overlap = signed_area(inter) if len(inter) >= 3 else 0.0
    return overlap / (area_a + area_b - overlap)


def match_boxes(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray],
                threshold: float = IOU_THRESHOLD) -> list[tuple[int, int, float]]:
    """One-to-one ``(predicted index, truth index, IoU)`` pairs at ``IoU >= threshold``, best first."""
    pairs = [(quad_iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)]
    used_p, used_t, matches = set(), set(), []
    for iou, i, j in sorted((pair for pair in pairs if pair[0] >= threshold), reverse=True):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            matches.append((i, j, iou))
    return matches


@dataclass(frozen=True)
class DetectionCounts:
    """Counts over one page or many (add them); the rates follow ICDAR's definitions."""

    predicted: int = 0
    truth: int = 0
    matched: int = 0

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.predicted + other.predicted, self.truth + other.truth,
                               self.matched + other.matched)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 0.0

    @property
    def hmean(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {"predicted": self.predicted, "truth": self.truth, "matched": self.matched,
                "precision": self.precision, "recall": self.recall, "hmean": self.hmean}


def detection_counts(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray],
                     threshold: float = IOU_THRESHOLD) -> DetectionCounts:
    return DetectionCounts(len(predicted), len(truth), len(match_boxes(predicted, truth, threshold)))


def fast_edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in code points, one NumPy pass per character of ``a``.

    The same as :func:`thaiocr.evaluate.edit_distance`, but fast enough for whole pages (thousands
    of characters): within a row, "insert" chains are a running minimum of ``cost - column``.
    """
    if not a or not b:
        return len(a) + len(b)
    target = np.array([ord(ch) for ch in b])
    columns = np.arange(len(b) + 1)
    previous = columns.copy()
    for i, ch in enumerate(a, start=1):
        best = np.empty_like(previous)
        best[0] = i
        best[1:] = np.minimum(previous[:-1] + (target != ord(ch)), previous[1:] + 1)
        previous = np.minimum.accumulate(best - columns) + columns
    return int(previous[-1])


def page_edits(prediction: str, truth: str) -> tuple[int, int]:
    """``(edits, truth length)`` after the Thai normalisation the line metrics use.

    Runs of white space count as one space, and row breaks as spaces, so that a tab between
    columns and a space between words are not told apart: only the words and their order count.
    """
    p, t = _page_words(prediction), _page_words(truth)
    return fast_edit_distance(p, t), len(t)


def _page_words(text: str) -> str:
    return " ".join(normalize_text(text).split())
