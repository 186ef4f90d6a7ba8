"""Honest metrics for text lines: line accuracy, character error rate, normalised edit distance.

Both sides pass through the same Thai normalisation (charset.normalize_text) before comparison,
so that a prediction differing from its label only in how a sara am or tone mark is encoded is
not counted wrong, and a real difference always is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from thaiocr.charset import normalize_text
from thaiocr.data import DataError, Sample, read_labelled_images
from thaiocr.imageload import DEFAULT_MAX_PIXELS, decode, line_target
from thaiocr.preprocess import ImageError, Preprocess


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings, counted in code points."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def align(truth: str, prediction: str) -> list[tuple[str, str]]:
    """A minimal-edit alignment of two strings as ``(truth char, predicted char)`` pairs.

    ``""`` marks a gap: ``(t, "")`` is a deletion (a truth character the prediction lacks),
    ``("", p)`` an insertion, and a pair of two different characters a substitution. Among
    alignments of equal cost, substitutions are preferred to a deletion plus an insertion.
    """
    rows, cols = len(truth) + 1, len(prediction) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            if i == 0 or j == 0:
                cost[i][j] = i + j
            else:
                diagonal = cost[i - 1][j - 1] + (truth[i - 1] != prediction[j - 1])
                cost[i][j] = min(diagonal, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    pairs: list[tuple[str, str]] = []
    i, j = len(truth), len(prediction)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (truth[i - 1] != prediction[j - 1]):
            i, j = i - 1, j - 1
            pairs.append((truth[i], prediction[j]))
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
            pairs.append((truth[i], ""))
        else:
            j -= 1
            pairs.append(("", prediction[j]))
    return pairs[::-1]


@dataclass(frozen=True)
class Metrics:
    """``line_acc``: exact lines / lines. ``cer``: total edits / total label code points.
    ``ned``: mean over lines of edits / max(len(prediction), len(label)) (0 is perfect)."""

    n: int
    line_acc: float
    cer: float
    ned: float
    n_chars: int
    n_edits: int

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"lines {self.n}  line accuracy {self.line_acc:.2%}  CER {self.cer:.2%}  NED {self.ned:.4f}"
        )


@dataclass(frozen=True)
class LineResult:
    truth: str
    prediction: str
    edits: int
    image: Path | None = None

    @property
    def correct(self) -> bool:
        return self.edits == 0


def compare_lines(
    predictions: Sequence[str], truths: Sequence[str], images: Sequence[Path] | None = None
) -> list[LineResult]:
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} predictions for {len(truths)} labels")
    results = []
    for i, (pred, truth) in enumerate(zip(predictions, truths, strict=True)):
        p, t = normalize_text(pred), normalize_text(truth)
        image = images[i] if images is not None else None
        results.append(LineResult(truth=t, prediction=p, edits=edit_distance(p, t), image=image))
    return results


def summarize(results: Sequence[LineResult]) -> Metrics:
    n = len(results)
    if n == 0:
        return Metrics(n=0, line_acc=0.0, cer=0.0, ned=0.0, n_chars=0, n_edits=0)
    n_chars = sum(len(r.truth) for r in results)
    n_edits = sum(r.edits for r in results)
    ned = sum(r.edits / max(len(r.truth), len(r.prediction), 1) for r in results) / n
    return Metrics(
        n=n,
        line_acc=sum(r.correct for r in results) / n,
        cer=n_edits / max(n_chars, 1),
        ned=ned,
        n_chars=n_chars,
        n_edits=n_edits,
    )


def breakdown(results: Sequence[LineResult], group_of: dict[Path, str]) -> dict[str, Metrics]:
    """Metrics per group (a font family, a sample kind) of the lines whose image has one."""
    groups: dict[str, list[LineResult]] = {}
    for result in results:
        if result.image in group_of:
            groups.setdefault(group_of[result.image], []).append(result)
    return {name: summarize(lines) for name, lines in sorted(groups.items())}


def compute_metrics(predictions: Sequence[str], truths: Sequence[str]) -> Metrics:
    return summarize(compare_lines(predictions, truths))


class _Reader(Protocol):
    """Anything that reads line images with a model's preprocessing, e.g. ``predict.Recognizer``."""

    @property
    def preprocess(self) -> Preprocess: ...

    def __call__(self, images: list, batch_size: int = ...) -> list: ...


def evaluate_label_file(reader: _Reader, labels: Path, batch_size: int = 32,
                        max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Metrics, list[LineResult]]:
    """Score a model on every line of a PaddleOCR label file (image paths relative to it)."""
    samples = read_labelled_images(Path(labels))
    images = decode_samples(samples, reader.preprocess, max_pixels)
    predictions = [p.text for p in reader(images, batch_size=batch_size)]
    results = compare_lines(predictions, [s.text for s in samples], [s.image_path for s in samples])
    return summarize(results), results


def decode_samples(samples: Sequence[Sample], preprocess: Preprocess, max_pixels: int) -> list[Image.Image]:
    """Each sample's image at the size the model reads it; an unreadable one stops with
    ``labels.txt:N: path: why``."""
    target = line_target(preprocess)
    images = []
    for sample in samples:
        try:
            images.append(decode(sample.image_path, str(sample.image_path), max_pixels, target=target))
        except ImageError as exc:
            raise DataError(f"{sample.source}:{sample.line}: {exc}") from None
    return images
