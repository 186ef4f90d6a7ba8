"""Helpers for the page OCR tests: a small rendered page with known line boxes, and recognisers
whose answers the tests choose (a real ``Recognizer`` around a scripted backend, or a stub)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from thaiocr.charset import Charset
from thaiocr.predict import Prediction, Recognizer
from thaiocr.preprocess import Preprocess
from thaiocr.synthpages import TextBox, draw_text, raqm_face, text_box

SMALL_PAGE = (640, 400)
# Stacked marks above (ปู่ ปิ๊ก นี้) and below (ฎ ญ ฐ ู): the boxes must hold them.
SMALL_PAGE_LINES = (
    ("ปู่ชี้นิ้วที่ป้ายใหญ่", (40, 40), 30),
    ("ราคา 1,250.00 บาท", (40, 140), 30),
    ("กฎหมายฐานะปิ๊กอัพ", (40, 240), 34),
)


def small_page(font_path, upside_down: Sequence[bool] = (False, False, False)) -> tuple[Image.Image, list[TextBox]]:
    """A white 640x400 page with three Thai lines drawn in the given font, and their boxes."""
    image = Image.new("RGB", SMALL_PAGE, (255, 255, 255))
    boxes = []
    for (text, origin, size), turned in zip(SMALL_PAGE_LINES, upside_down, strict=True):
        ink = draw_text(image, text, raqm_face(font_path, size), origin, (20, 20, 20), turned)
        assert ink is not None
        boxes.append(text_box(text, ink, turned, image.size))
    return image, boxes


def scripted_recognizer(text: str = "1", confidence: float = 0.95, calls: list[int] | None = None,
                        max_width: int = 1024) -> Recognizer:
    """A real :class:`Recognizer` whose backend always answers ``text`` with about ``confidence``
    (and appends each batch's size to ``calls``)."""
    charset = Charset.from_chars(list("0123456789"))
    ids = charset.encode(text)

    def backend(batch: np.ndarray) -> np.ndarray:
        if calls is not None:
            calls.append(len(batch))
        steps = max(len(ids), batch.shape[3] // 4)
        probs = np.full((batch.shape[0], steps, charset.num_classes), (1 - confidence) / charset.num_classes,
                        dtype=np.float32)
        chosen = ids + [0] * (steps - len(ids))
        probs[:, np.arange(steps), chosen] = confidence
        return probs

    return Recognizer.from_backend(backend, charset, Preprocess(height=32, max_width=max_width), source="scripted")


class StubRecognizer:
    """Reads a crop as ``answer(crop)`` -> (text, confidence) and records the batches it was given."""

    def __init__(self, answer: Callable[[Image.Image], tuple[str, float]], max_width: int = 256) -> None:
        self.answer = answer
        self.preprocess = Preprocess(height=32, max_width=max_width)
        self.batches: list[int] = []

    def __call__(self, images: Sequence[Image.Image]) -> list[Prediction]:
        self.batches.append(len(images))
        return [Prediction(*self.answer(image)) for image in images]


def top_heavy(image: Image.Image) -> bool:
    """True when the upper half of the image holds more ink than the lower half."""
    grey = 255 - np.asarray(image.convert("L"), dtype=np.float32)
    half = grey.shape[0] // 2
    return grey[:half].sum() > grey[-half:].sum()
