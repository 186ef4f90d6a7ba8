"""Helpers for the page OCR tests: a small rendered page with known line boxes, and recognisers
whose answers the tests choose (a real ``Recognizer`` around a scripted backend, or a stub)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from thaiocr.charset import Charset
from thaiocr.det.labels import TextBox
from thaiocr.predict import Prediction, Recognizer
from thaiocr.preprocess import Preprocess
from thaiocr.synth.pages import draw_text, fit_text, raqm_face, text_box

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


# --- pages with a layout: columns, a heading, a table -----------------------------------------------

# Thai prose for the layout pages; each sentence is cut to its column's width, so every line differs.
PROSE = (
    "ประเทศไทยตั้งอยู่กลางคาบสมุทรอินโดจีนและมีพรมแดนติดกับประเทศเพื่อนบ้านสี่ประเทศ",
    "แม่น้ำเจ้าพระยาไหลผ่านที่ราบภาคกลางซึ่งเป็นแหล่งปลูกข้าวที่สำคัญที่สุดของประเทศ",
    "ฤดูฝนเริ่มราวกลางเดือนพฤษภาคมและสิ้นสุดในเดือนตุลาคมของทุกปีโดยประมาณ",
    "ชาวบ้านในหมู่บ้านริมน้ำมักออกหาปลาตั้งแต่เช้ามืดก่อนที่ตลาดจะเปิดขาย",
    "ห้องสมุดประชาชนเปิดให้บริการยืมหนังสือฟรีทุกวันยกเว้นวันหยุดนักขัตฤกษ์",
    "นักเรียนชั้นประถมศึกษาปีที่หกเดินทางไปทัศนศึกษาที่พิพิธภัณฑ์แห่งชาติ",
    "ร้านกาแฟเล็กๆ หน้าสถานีรถไฟขายขนมปังปิ้งและชาเย็นมาตั้งแต่สมัยคุณปู่",
    "เทศบาลประกาศปิดถนนสายหลักชั่วคราวเพื่อซ่อมท่อระบายน้ำที่ชำรุดเสียหาย",
    "โรงพยาบาลประจำจังหวัดรับสมัครอาสาสมัครช่วยงานแผนกผู้ป่วยนอกในวันเสาร์",
    "เกษตรกรภาคเหนือหันมาปลูกกาแฟอาราบิกาบนดอยสูงแทนการปลูกข้าวโพด",
    "งานประเพณีลอยกระทงจัดขึ้นในคืนวันเพ็ญเดือนสิบสองตามปฏิทินจันทรคติ",
    "สำนักงานที่ดินเลื่อนวันรับคำขอออกโฉนดออกไปอีกหนึ่งสัปดาห์เพราะระบบขัดข้อง",
    "ตลาดน้ำดำเนินสะดวกมีนักท่องเที่ยวต่างชาติมาเยือนเป็นจำนวนมากทุกสุดสัปดาห์",
    "คุณยายสอนหลานทำแกงเขียวหวานไก่ใส่มะเขือเปราะตามสูตรของครอบครัว",
    "บริษัทขนส่งเพิ่มเที่ยวรถโดยสารระหว่างจังหวัดในช่วงเทศกาลสงกรานต์",
    "อุทยานแห่งชาติเขาใหญ่เป็นมรดกโลกทางธรรมชาติที่มีสัตว์ป่าหลากหลายชนิด",
)
HEADING = "รายงานประจำปีของสมาคมผู้อ่านหนังสือ"
TABLE = (("รายการ", "จำนวน", "ราคา"), ("สมุดปกแข็ง", "๑๒ เล่ม", "๓๖๐ บาท"),
         ("ดินสอไม้", "๒๔ แท่ง", "๑๒๐ บาท"), ("ยางลบก้อนใหญ่", "๖ ก้อน", "๔๒ บาท"))


@dataclass(frozen=True)
class LayoutPage:
    """A page and its line boxes, in the order a reader reads them; ``blocks``: how many lines each
    paragraph or table holds, in that order."""

    image: Image.Image
    boxes: list[TextBox]
    blocks: list[int]

    @property
    def text(self) -> str:
        return "\n".join(box.text for box in self.boxes)


class _Typesetter:
    """Draws lines onto a white page in one face, keeping each line's box in the order drawn."""

    def __init__(self, font_path: Path, size: tuple[int, int], font_size: int) -> None:
        self.image = Image.new("RGB", size, (255, 255, 255))
        self.face = raqm_face(font_path, font_size)
        self.font_size = font_size
        self.boxes: list[TextBox] = []

    def line(self, text: str, x: int, y: int, width: int | None = None) -> None:
        text = fit_text(text, self.face, width) if width else text
        ink = draw_text(self.image, text, self.face, (x, y), (20, 20, 20))
        assert ink is not None
        self.boxes.append(text_box(text, ink, False, self.image.size))

    def column(self, texts: Sequence[str], x: int, y: int, width: int, breaks: Sequence[int] = ()) -> None:
        """Texts cut to ``width``, one a line, 1.6 font sizes apart; a paragraph gap before each index in ``breaks``."""
        for index, text in enumerate(texts):
            y += self.font_size if index in breaks else 0
            self.line(text, x, y, width)
            y += round(self.font_size * 1.6)


def column_page(font_path: Path, heading: bool = False, font_size: int = 20, offset: int = 0) -> LayoutPage:
    """Two columns of four and five lines (the left one two paragraphs), the right one ``offset``
    pixels lower, under a centred heading that spans both when ``heading``."""
    width, margin, gutter = 860, 30, 50
    column = (width - 2 * margin - gutter) // 2
    pages = _Typesetter(font_path, (width, (270 if heading else 210) + offset), font_size)
    top = margin
    if heading:
        title = raqm_face(font_path, round(font_size * 1.5))
        pages.face, pages.font_size = title, round(font_size * 1.5)
        pages.line(HEADING, round((width - title.getlength(HEADING)) / 2), top)
        pages.face, pages.font_size = raqm_face(font_path, font_size), font_size
        top += 3 * font_size
    pages.column(PROSE[:4], margin, top, column, breaks=(2,))
    pages.column(PROSE[4:9], margin + column + gutter, top + offset, column)
    return LayoutPage(pages.image, pages.boxes, ([1] if heading else []) + [2, 2, 5])


def table_page(font_path: Path, font_size: int = 20) -> LayoutPage:
    """A line of prose, a ruled table of three columns and four rows, and another line of prose."""
    pages = _Typesetter(font_path, (620, 330), font_size)
    pages.line(PROSE[9], 30, 20, 560)
    widths, pad, row_height = (220, 140, 160), 12, round(font_size * 2.2)
    lefts = [30 + sum(widths[:i]) for i in range(len(widths) + 1)]
    top = 20 + 3 * font_size
    draw = ImageDraw.Draw(pages.image)
    for number, row in enumerate(TABLE):
        for text, left in zip(row, lefts, strict=False):
            pages.line(text, left + pad, top + number * row_height + pad)
    for x in lefts:
        draw.line((x, top, x, top + row_height * len(TABLE)), fill=(20, 20, 20), width=2)
    for y in range(top, top + row_height * len(TABLE) + 1, row_height):
        draw.line((lefts[0], y, lefts[-1], y), fill=(20, 20, 20), width=2)
    pages.line(PROSE[10], 30, top + row_height * len(TABLE) + font_size, 560)
    return LayoutPage(pages.image, pages.boxes, [1, len(TABLE) * 3, 1])
