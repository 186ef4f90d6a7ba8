"""Lines wider than a recogniser's input: cut into pieces at gaps, and the pieces' readings joined.

A CRNN reads a line scaled to its input height and at most ``max_width`` columns wide; a longer
line squeezed into that width comes out unreadable (a scanned line of 60-100 characters is 25 to 40
times as wide as it is high). So a line scaled to the model's height but wider than ``max_width`` is
cut into pieces no wider than that, each cut in a gap between words or glyphs, and the pieces'
readings are joined again, with a space where the gap was as wide as a word space.

Ink is judged on whole columns, so that a cut never passes between a base letter and the marks
stacked above or below it. Pure NumPy: inference with an exported model never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from thaiocr.charset import SPACE_RUN

# A pixel's distance from the background grey, as a share of the line's contrast: none of it is ink
# below INK_FLOOR (faint noise, a paper's texture), all of it above INK_FULL (the anti-aliased
# edge counts in part).
INK_FLOOR, INK_FULL = 0.25, 0.75
MIN_CONTRAST = 24.0  # grey levels: a line with less contrast than this holds no ink
CONTRAST_PERCENTILE = 99  # the line's contrast: a distance from the background that only ink reaches
BLANK_INK = 0.02  # a column with less ink than this share of the line's height (1 px at 48) is blank
SEARCH_FROM = 0.5  # a cut is looked for between this share of the allowed width and all of it
MIN_PIECE = 8  # columns: the last piece is never narrower (a model needs a few time steps)
# A blank run is a word space when it is at least SPACE_VS_GAP times as wide as the line's median
# blank run between glyphs, and SPACE_MIN of its height. Measured on lines of 60+ code points (TNC
# words, a space between phrases), two in each of the 378 Thai faces here, scaled to 48 px with the
# renderer's crop margins (3,766 spaces, 29,034 other gaps): a space's run is 0.10 to 0.21 of the
# height (5th percentile, median) and 2.5 to 4 times the line's median gap; other gaps reach 0.17 of
# the height and 2 to 3 times the median gap (99th, 99.9th percentile), most in monospace faces.
# This rule misses 4.9% of spaces and takes 0.2% of other gaps for one; a fixed 0.15 of the height,
# the best fixed width, misses 14% and takes 2.3%.
SPACE_VS_GAP = 2.5
# A line up to this many times its height is squeezed into a narrower input rather than cut, as
# training squeezes it: the digits recipe's 32 x 256 input (8:1) squeezes many of its training
# lines, and its model read 98.5% of its validation lines squeezed, 98.4% with those over 12:1 cut,
# 96.0% with all cut. The general models' 48 x 720 input (15:1) holds such lines whole, and their
# long lines read better cut (bench/heldout.py's long set: 24.4% cut, 20.4% squeezed up to 1.5
# input widths).
SQUEEZE_WITHIN_HEIGHTS = 12
SPACE_MIN = 0.08


@dataclass(frozen=True)
class LinePieces:
    """A line cut into ``pieces`` (views of its columns, left to right); ``separators[i]`` (a space
    or nothing) goes between the readings of pieces ``i`` and ``i + 1``."""

    pieces: list[np.ndarray]
    separators: list[str]


def cut_line(line: np.ndarray, max_width: int) -> LinePieces:
    """A line already scaled to the model's height (``[height, width, channels]`` uint8) cut into
    pieces no wider than ``max_width``; a line no wider than that is its only piece, untouched."""
    width = line.shape[1]
    if width <= max_width:
        return LinePieces([line], [])
    ink = column_ink(line)
    runs = blank_runs(ink <= BLANK_INK * line.shape[0])
    cuts, gaps = cut_columns(ink, runs, max_width)
    pieces = [line[:, start:end] for start, end in pairwise([0, *cuts, width])]
    space = space_width(runs, width, line.shape[0])
    return LinePieces(pieces, [" " if gap >= space else "" for gap in gaps])


def column_ink(line: np.ndarray) -> np.ndarray:
    """How much ink each column of a ``[height, width, channels]`` line holds, from 0 to its height.

    The background is the line's median grey (most of a text line is background) and ink is what
    stands away from it, darker or lighter, so dark text on light paper and light text on dark
    both count.
    """
    grey = line.mean(axis=2, dtype=np.float32)
    distance = np.abs(grey - np.median(grey))
    contrast = max(float(np.percentile(distance, CONTRAST_PERCENTILE)), MIN_CONTRAST)
    ink = np.clip((distance / contrast - INK_FLOOR) / (INK_FULL - INK_FLOOR), 0.0, 1.0)
    return ink.sum(axis=0)


def cut_columns(ink: np.ndarray, runs: np.ndarray, max_width: int) -> tuple[list[int], list[int]]:
    """Where to cut a line of ``len(ink)`` columns with blank ``runs`` (as :func:`blank_runs` gives
    them) so that no piece is wider than ``max_width``, and the width of the blank run each cut lies
    in (0 for a cut through ink).

    Each cut is looked for in the window from ``SEARCH_FROM`` of the allowed width to all of it: in
    the middle of the widest blank run that reaches into the window (the rightmost of equals), else
    at the window's least-inked column. The last piece runs to the line's end.
    """
    cuts: list[int] = []
    gaps: list[int] = []
    start, width = 0, len(ink)
    while width - start > max_width:
        low = start + math.ceil(SEARCH_FROM * max_width)
        high = max(low, min(start + max_width, width - MIN_PIECE))
        cut, gap = _cut_in_window(ink, runs, low, high)
        cuts.append(cut)
        gaps.append(gap)
        start = cut
    return cuts, gaps


def _cut_in_window(ink: np.ndarray, runs: np.ndarray, low: int, high: int) -> tuple[int, int]:
    """``(cut, gap)``: the column from ``low`` to ``high`` that the next piece starts at, and the
    width of the blank run it lies in (0 when no blank run reaches into the window)."""
    first = np.maximum(runs[:, 0], low)  # each run's columns within the window, if it has any
    last = np.minimum(runs[:, 1] - 1, high)
    widths = np.where(first <= last, runs[:, 1] - runs[:, 0], 0)
    if not widths.any():
        return high - int(np.argmin(ink[low : high + 1][::-1])), 0  # the rightmost least-inked column
    best = len(widths) - 1 - int(np.argmax(widths[::-1]))  # the rightmost widest: longer pieces, fewer
    middle = (runs[best, 0] + runs[best, 1]) // 2
    return int(np.clip(middle, first[best], last[best])), int(widths[best])


def blank_runs(blank: np.ndarray) -> np.ndarray:
    """``[[start, end], ...]`` (end exclusive) of each run of True, as an ``[n, 2]`` int array."""
    edges = np.diff(np.concatenate([[0], blank.astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def space_width(runs: np.ndarray, width: int, height: int) -> float:
    """The narrowest blank run that is a word space in a line ``width`` columns wide with these
    blank ``runs`` (see :data:`SPACE_VS_GAP`): gaps are judged against the line's own, so that
    monospace faces and letter-spaced lines, whose every gap is wide, are not read with spaces."""
    inner = runs[(runs[:, 0] > 0) & (runs[:, 1] < width)]
    typical = float(np.median(inner[:, 1] - inner[:, 0])) if len(inner) else 1.0
    return max(SPACE_MIN * height, SPACE_VS_GAP * typical)


def join_readings(texts: Sequence[str], confidences: Sequence[float], separators: Sequence[str]) -> tuple[str, float]:
    """One line's text and confidence from its pieces' readings.

    Runs of spaces become one and none starts or ends the line, as in a single reading. The
    confidence is the mean of the pieces', weighted by the characters each read: a single reading's
    confidence is the mean over its characters, so a cut line is scored on the same scale as an
    uncut one (a minimum would make long lines look doubtful only for having more pieces).
    """
    if len(texts) == 1:
        return texts[0], confidences[0]
    text = SPACE_RUN.sub(" ", "".join(sep + piece for sep, piece in zip(["", *separators], texts, strict=True)))
    weights = [len(piece) for piece in texts]
    total = sum(weights)
    confidence = sum(w * c for w, c in zip(weights, confidences, strict=True)) / total if total else 1.0
    return text.strip(" "), confidence
