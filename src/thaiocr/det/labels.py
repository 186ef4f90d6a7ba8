"""The det label format (PaddleOCR's): one page per line, ``image path<TAB>JSON list of boxes``::

    images/000001.png<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]

Image paths are relative to the label file's folder. Synthetic pages write it
(:mod:`thaiocr.synth.pages`), detector training reads it (:mod:`thaiocr.det.targets`). Torch-free.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from thaiocr.errors import ThaiOCRError


@dataclass(frozen=True)
class TextBox:
    """One line of text and its quadrilateral, clockwise from the text's own top-left corner."""

    text: str
    points: tuple[tuple[int, int], ...]

    @property
    def upside_down(self) -> bool:
        return self.points[0][1] > self.points[2][1]

    def to_label(self) -> dict:
        return {"transcription": self.text, "points": [list(p) for p in self.points]}


def det_label_line(image_path: str, boxes: Sequence[TextBox]) -> str:
    """One line of a PaddleOCR det label file."""
    return f"{image_path}\t{json.dumps([b.to_label() for b in boxes], ensure_ascii=False)}\n"


def read_det_labels(path: Path) -> list[tuple[Path, list[TextBox]]]:
    """``(image path, boxes)`` per line of a det label file; image paths are relative to its folder."""
    path = Path(path)
    try:
        rows = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ThaiOCRError(f"{path}: label file not found") from None
    pages = []
    for number, row in enumerate(rows, start=1):
        if row.strip():
            pages.append(parse_det_row(row, path, number))
    return pages


def parse_det_row(row: str, path: Path, number: int) -> tuple[Path, list[TextBox]]:
    image, _, labels = row.partition("\t")
    try:
        boxes = [TextBox(item["transcription"], tuple((round(x), round(y)) for x, y in item["points"]))
                 for item in json.loads(labels)]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ThaiOCRError(f"{path}:{number}: not a det label line ({exc})") from None
    return path.parent / image, boxes
