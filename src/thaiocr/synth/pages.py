"""Synthetic Thai pages for text detection and page OCR, with line boxes in PaddleOCR's det format.

A page (A4 at 150 dpi by default) is a stack of blocks in one body font: headings in larger sizes,
wrapped paragraphs, ruled tables (a box per cell) and receipt-like lists (an item box and a
right-aligned amount box per row). A few lines are drawn upside down for the orientation step.

Every box is the ink of its text as rendered (raqm layout), so stacked marks above and below
the line are inside it, padded by :data:`BOX_PAD` pixels. A box's four points go clockwise from
the text's own top-left corner, as ICDAR labels do: an upside-down line starts at its bottom-right
in image coordinates (:attr:`TextBox.upside_down`). A folder written by :func:`generate_pages`::

    out_dir/
      det_gt.txt       images/000001.png<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]
      manifest.json    version, seed, size, content, fonts
      images/*.png

A page is a pure function of ``(seed, index)`` and the fonts given.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

from thaiocr.det.labels import TextBox, det_label_line
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write, atomic_write_text
from thaiocr.synth.backgrounds import make_background
from thaiocr.synth.fonts import FontInfo, discover_fonts, font_covers
from thaiocr.synth.lines import FontPicker, fonts_by_split, sample_seed
from thaiocr.synth.render import MARK_ZONE_PROBE, text_clusters
from thaiocr.synth.textsource import SourceSpec, TextSource

PAGES_VERSION = 1
PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi
LABEL_FILE = "det_gt.txt"
IMAGE_DIR = "images"
BOX_PAD = 2  # pixels around the ink: anti-aliased edges, and what a reader needs around the text
UPSIDE_DOWN_PROBABILITY = 0.06
BLUR_PROBABILITY = 0.3  # a slightly soft scan
BODY_SIZES = (20, 34)  # font size in px: 10 to 16 pt at 150 dpi
HEADING_SCALE = (1.4, 2.2)
MONO_FAMILIES = ("TlwgMono", "TlwgTypewriter", "TlwgTypist", "ArundinaSansMono")
MAX_TRIES = 100
FIT_TRIES = 10  # texts too wide for their place drawn before one is cut to fit
# What each part of a page says: "thai" is what Thai documents hold; "numbers" only uses the
# characters of the digits dict, so a digits recogniser can read the whole page.
_AMOUNTS: SourceSpec = {"numbers": {"kinds": ["amount"]}}
CONTENTS: dict[str, dict[str, SourceSpec]] = {
    "thai": {"heading": "wiki", "body": "phrases:4,mixed:1", "cell": "words:2,names:1,numbers:2",
             "item": "words:3,phrases:1", "amount": _AMOUNTS},
    "numbers": {"heading": "numbers", "body": "numbers", "cell": "numbers", "item": "numbers", "amount": _AMOUNTS},
}
FONT_SPLITS = ("train", "val", "all")


@dataclass(frozen=True)
class SynthPage:
    image: Image.Image
    boxes: list[TextBox]
    font: str  # the body font


def generate_pages(out_dir: Path, count: int, seed: int = 0, fonts: Sequence[FontInfo] | None = None,
                   font_split: str = "train", val_fonts: int | Sequence[str] = 3, content: str = "thai",
                   size: tuple[int, int] = PAGE_SIZE, progress: bool = True) -> dict:
    """Write ``count`` pages (layout in the module docstring) and return the manifest.

    ``font_split`` takes the fonts as :func:`thaiocr.synth.lines.fonts_by_split` splits them with
    ``val_fonts``: ``train`` (a detector's training data), ``val`` (held-out families, for
    benchmarks) or ``all``.
    """
    if count < 0:
        raise ThaiOCRError(f"page count must be >= 0, got {count}")
    chosen = page_fonts(fonts if fonts is not None else discover_fonts(), font_split, val_fonts)
    maker = PageMaker(chosen, content, size)
    out_dir = Path(out_dir)
    (out_dir / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    lines, body_fonts = [], []
    for index in tqdm(range(count), desc="synth pages", unit="page", disable=not progress):
        page = maker.make(random.Random(sample_seed(seed, "pages", index)))
        path = f"{IMAGE_DIR}/{index + 1:06d}.png"
        atomic_write(out_dir / path, lambda stream, im=page.image: im.save(stream, format="PNG", compress_level=1))
        lines.append(det_label_line(path, page.boxes))
        body_fonts.append(page.font)
    atomic_write_text(out_dir / LABEL_FILE, "".join(lines))
    manifest = {"pages_version": PAGES_VERSION, "seed": seed, "count": count, "size": list(size),
                "content": content, "font_split": font_split, "fonts": [f.name for f in chosen],
                "body_fonts": body_fonts, "label_file": LABEL_FILE}
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def page_fonts(fonts: Sequence[FontInfo], font_split: str, val_fonts: int | Sequence[str] = 3) -> list[FontInfo]:
    if font_split not in FONT_SPLITS:
        raise ThaiOCRError(f"font split {font_split!r}: choose one of {', '.join(FONT_SPLITS)}")
    if font_split == "all":
        return sorted(fonts, key=lambda font: font.name)
    return fonts_by_split(fonts, val_fonts)[0][font_split]


# --- one page -----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def raqm_face(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)


@cache
def _line_extent(path: Path, size: int) -> tuple[int, int]:
    """Top and bottom of a line slot below the pen: the font's ascent and descent, or the tallest
    stack of Thai marks when that reaches further (it does in several TLWG faces)."""
    face = raqm_face(path, size)
    ascent, descent = face.getmetrics()
    _, top, _, bottom = face.getbbox(MARK_ZONE_PROBE)
    return min(0, top), max(ascent + descent, bottom)


class PageMaker:
    """Makes pages from a set of fonts and a content kind (see :data:`CONTENTS`)."""

    def __init__(self, fonts: Sequence[FontInfo], content: str = "thai", size: tuple[int, int] = PAGE_SIZE) -> None:
        if content not in CONTENTS:
            raise ThaiOCRError(f"page content {content!r}: choose one of {', '.join(CONTENTS)}")
        if not fonts:
            raise ThaiOCRError("no fonts to draw pages with")
        self.fonts = list(fonts)
        self.picker = FontPicker(self.fonts)
        self.sources = {role: TextSource(spec, max_length=60) for role, spec in CONTENTS[content].items()}
        self.size = size

    def make(self, rng: random.Random) -> SynthPage:
        page = _Page(self, rng)
        page.fill()
        image = page.image
        if rng.random() < BLUR_PROBABILITY:
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 0.9)))
        return SynthPage(image, page.boxes, page.body.name)

    def text(self, rng: random.Random, role: str) -> str:
        return self.sources[role].sample(rng)


class _Page:
    """The page being drawn: a cursor that moves down block by block, and the boxes so far."""

    def __init__(self, maker: PageMaker, rng: random.Random) -> None:
        self.maker, self.rng = maker, rng
        width, height = maker.size
        paper = (rng.randint(225, 255), rng.randint(225, 255), rng.randint(225, 255))
        self.image = make_background(maker.size, paper, rng)
        self.draw = ImageDraw.Draw(self.image)
        self.ink = (rng.randint(0, 60), rng.randint(0, 60), rng.randint(0, 60))
        self.left = rng.randint(50, 130)
        self.right = width - rng.randint(50, 130)
        self.y = rng.randint(50, 130)
        self.bottom = height - rng.randint(50, 120)
        self.body = self._body_font()
        self.body_size = rng.randint(*BODY_SIZES)
        self.boxes: list[TextBox] = []

    def _body_font(self) -> FontInfo:
        thai = self.maker.text(self.rng, "body")
        return self.maker.picker.pick(self.rng, thai) or self.rng.choice(self.maker.fonts)

    def fill(self) -> None:
        blocks = (self.heading, self.paragraph, self.table, self.receipt)
        self.heading()
        while self.y < self.bottom:
            self.rng.choices(blocks, weights=(1, 4, 2, 2))[0]()
            self.y += round(self.body_size * self.rng.uniform(0.6, 1.6))

    # --- text lines -----------------------------------------------------------------------------

    def font_for(self, text: str, preferred: FontInfo) -> FontInfo | None:
        return preferred if font_covers(preferred, text) else self.maker.picker.pick(self.rng, text)

    def line(self, role: str, size: int, width: int, font: FontInfo | None = None) -> tuple[str, FontInfo] | None:
        """A text of ``role`` that fits ``width`` and a font covering it (``font`` when it does).

        Texts are drawn again until one fits whole; after :data:`FIT_TRIES` the last is cut at a
        cluster boundary instead.
        """
        candidates = []
        for _ in range(MAX_TRIES):
            text = self.maker.text(self.rng, role)
            chosen = self.font_for(text, font or self.body)
            if chosen is None:
                continue
            if raqm_face(chosen.path, size).getlength(text) <= width:
                return text, chosen
            candidates.append((text, chosen))
            if len(candidates) == FIT_TRIES:
                break
        if not candidates:
            return None
        last = candidates[-1]
        fitted = fit_text(last[0], raqm_face(last[1].path, size), width)
        return (fitted, last[1]) if fitted else None

    def slot_height(self, font: FontInfo, size: int) -> int:
        top, bottom = _line_extent(font.path, size)
        return bottom - top

    def put(self, text: str, font: FontInfo, size: int, x: float, y: float) -> None:
        """Draw ``text`` with its line slot's top-left corner at ``(x, y)`` and keep its box."""
        top, _ = _line_extent(font.path, size)
        upside_down = self.rng.random() < UPSIDE_DOWN_PROBABILITY
        box = draw_text(self.image, text, raqm_face(font.path, size), (round(x), round(y - top)), self.ink, upside_down)
        if box is not None:
            self.boxes.append(text_box(text, box, upside_down, self.image.size))

    def fits(self, height: int) -> bool:
        return self.y + height <= self.bottom

    # --- blocks ---------------------------------------------------------------------------------

    def heading(self) -> None:
        size = round(self.body_size * self.rng.uniform(*HEADING_SCALE))
        font = self.maker.picker.pick(self.rng, "ก") or self.body  # headings often use another face
        picked = self.line("heading", size, self.right - self.left, font)
        if picked is None or not self.fits(self.slot_height(picked[1], size)):
            self.y = self.bottom
            return
        text, font = picked
        width = raqm_face(font.path, size).getlength(text)
        x = self.left if self.rng.random() < 0.6 else (self.left + self.right - width) / 2
        self.put(text, font, size, x, self.y)
        self.y += self.slot_height(font, size)

    def paragraph(self) -> None:
        size = round(self.body_size * self.rng.uniform(0.85, 1.15))
        spacing = self.rng.uniform(1.0, 1.4)
        for number in range(self.rng.randint(2, 8)):
            indent = round(size * 2) if number == 0 and self.rng.random() < 0.5 else 0
            last = self.rng.random() < 0.2
            width = (self.right - self.left - indent) * (self.rng.uniform(0.3, 1.0) if last else 1.0)
            filled = self.filled_line(size, width)
            if filled is None:
                break
            text, font = filled
            step = round(self.slot_height(font, size) * spacing)
            if not self.fits(step):
                self.y = self.bottom
                return
            self.put(text, font, size, self.left + indent, self.y)
            self.y += step
            if last:
                return

    def filled_line(self, size: int, width: float) -> tuple[str, FontInfo] | None:
        """Body texts joined by spaces until the next would pass ``width``: a wrapped paragraph line."""
        first = self.line("body", size, round(width))
        if first is None:
            return None
        text, font = first
        face = raqm_face(font.path, size)
        for _ in range(MAX_TRIES):
            more = f"{text} {self.maker.text(self.rng, 'body')}"
            if font_covers(font, more):
                text = fit_text(more, face, width)  # a full line ends mid-word: Thai has no hyphens
                if text != more:
                    break
        return text, font

    def table(self) -> None:
        size = round(self.body_size * self.rng.uniform(0.8, 1.0))
        columns = self.rng.randint(2, 4)
        pad = max(4, size // 3)
        column_width = (self.right - self.left) // columns
        rows = [[self.line("cell", size, column_width - 2 * pad) for _ in range(columns)]
                for _ in range(self.rng.randint(3, 7))]
        widths = [max((round(raqm_face(c[1].path, size).getlength(c[0])) for c in column if c), default=0) + 2 * pad
                  for column in zip(*rows, strict=True)]
        row_height = max((self.slot_height(c[1], size) for row in rows for c in row if c), default=0) + 2 * pad
        if not self.fits(row_height * len(rows)):
            self.y = self.bottom
            return
        rule = self.rng.randint(1, 2)
        edges = [self.left + sum(widths[:i]) for i in range(columns + 1)]
        for r, row in enumerate(rows):
            top = self.y + r * row_height
            for cell, x in zip(row, edges, strict=False):
                if cell:
                    self.put(cell[0], cell[1], size, x + pad, top + pad)
        self.rules(edges, [self.y + r * row_height for r in range(len(rows) + 1)], rule)
        self.y += row_height * len(rows)

    def rules(self, xs: list[int], ys: list[int], thickness: int) -> None:
        for x in xs:
            self.draw.rectangle((x, ys[0], x + thickness - 1, ys[-1] + thickness - 1), fill=self.ink)
        for y in ys:
            self.draw.rectangle((xs[0], y, xs[-1] + thickness - 1, y + thickness - 1), fill=self.ink)

    def receipt(self) -> None:
        size = round(self.body_size * self.rng.uniform(0.8, 1.05))
        mono = [f for f in self.maker.fonts if f.family in MONO_FAMILIES]
        font = self.rng.choice(mono) if mono and self.rng.random() < 0.5 else self.body
        span = round((self.right - self.left) * self.rng.uniform(0.45, 0.8))
        x0 = self.left + self.rng.randint(0, self.right - self.left - span)
        for number in range(self.rng.randint(3, 10)):
            item = self.line("item", size, round(span * 0.6), font)
            amount = self.line("amount", size, round(span * 0.3), font)
            if item is None or amount is None:
                return
            step = round(max(self.slot_height(item[1], size), self.slot_height(amount[1], size)) * 1.25)
            if not self.fits(step * 2):
                self.y = self.bottom
                return
            if number and self.rng.random() < 0.15:
                self.draw.rectangle((x0, self.y + step // 2, x0 + span, self.y + step // 2), fill=self.ink)
                self.y += step
            self.put(*item, size, x0, self.y)
            amount_width = raqm_face(amount[1].path, size).getlength(amount[0])
            self.put(*amount, size, x0 + span - amount_width, self.y)
            self.y += step


def fit_text(text: str, face: ImageFont.FreeTypeFont, width: float) -> str:
    """``text`` cut after its last whole cluster that fits ``width`` px (trailing spaces dropped)."""
    if face.getlength(text) <= width:
        return text
    clusters = text_clusters(text)
    low, high = 0, len(clusters)
    while low < high:  # the longest prefix of whole clusters that fits
        middle = (low + high + 1) // 2
        if face.getlength("".join(clusters[:middle])) <= width:
            low = middle
        else:
            high = middle - 1
    return "".join(clusters[:low]).rstrip()


def draw_text(image: Image.Image, text: str, face: ImageFont.FreeTypeFont, origin: tuple[int, int],
              ink: tuple[int, ...], upside_down: bool = False) -> tuple[int, int, int, int] | None:
    """Draw ``text`` with its pen at ``origin`` (raqm layout); return the box its ink covers, or None.

    The text is drawn into a mask first, so that the box is the ink itself (stacked marks
    included), and so that an upside-down line turns about its own centre.
    """
    left, top, right, bottom = face.getbbox(text)
    if right <= left or bottom <= top:
        return None
    mask = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(mask).text((1 - left, 1 - top), text, font=face, fill=255)
    if upside_down:
        mask = mask.transpose(Image.Transpose.ROTATE_180)
    ink_box = mask.getbbox()
    if ink_box is None:
        return None
    x, y = origin[0] + left - 1, origin[1] + top - 1
    ImageDraw.Draw(image).bitmap((x, y), mask, fill=ink)
    return ink_box[0] + x, ink_box[1] + y, ink_box[2] + x, ink_box[3] + y


def text_box(text: str, ink_box: tuple[int, int, int, int], upside_down: bool, size: tuple[int, int]) -> TextBox:
    """The ink box grown by :data:`BOX_PAD` (within the page), clockwise from the text's top-left."""
    left, top = max(0, ink_box[0] - BOX_PAD), max(0, ink_box[1] - BOX_PAD)
    right, bottom = min(size[0], ink_box[2] + BOX_PAD), min(size[1], ink_box[3] + BOX_PAD)
    corners = ((left, top), (right, top), (right, bottom), (left, bottom))
    return TextBox(text, corners[2:] + corners[:2] if upside_down else corners)
