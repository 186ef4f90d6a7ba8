"""Page OCR: find the text lines of a page, read them with a line recogniser, put them in reading order.

``PageReader`` runs a :class:`~thaiocr.det.detector.Detector`, crops every line (grown where ink goes
on past the box, so that stacked marks the detector's box cuts off are kept), reads all crops in one batched call of the
:class:`~thaiocr.predict.Recognizer`, turns the lines that read poorly upside down and reads them
again (keeping the more confident reading), and returns a :class:`PageResult`: the lines in reading
order, grouped into paragraphs and tables (see :mod:`thaiocr.layout`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from thaiocr.det.detector import DEFAULT_DETECTOR, DETECTORS, DBDetector, Detector, TextRegion, load_detector
from thaiocr.errors import ThaiOCRError
from thaiocr.layout import TABLE, Block, block_text, box_bounds, cell_text, layout, layout_text, reorder
from thaiocr.layout import page_text as page_text  # where bench/page_ocr.py and others import it from
from thaiocr.predict import Prediction, Recognizer

# How far a crop may reach past its box, as fractions of the box's height. On held-out synthetic
# pages (docs/page_ocr.md), PP-OCRv4 boxes at limit 960 stopped short of the ink by at most 0.29 of
# their height above or below (0.17-0.20 at the 99th percentile) and 0.18 at the ends (99th percentile).
CROP_PAD_Y = 0.3
CROP_PAD_X = 0.2
MARK_REACH = 0.1  # ink this close (in box heights) past a box's edge belongs to the line
RULE_SHARE = 0.6  # a row inked across more than this share of a box's width is a rule, not text
# Lines read with a mean confidence below this are read again turned 180 degrees (see docs/page_ocr.md).
RECHECK_BELOW = 0.9
LABEL_FONT_FAMILIES = ("Loma", "Garuda", "ArundinaSans", "Waree")  # clear faces with Thai and Latin


@dataclass(frozen=True)
class PageLine:
    """A text line of a page: its quadrilateral (clockwise from the text's own top-left, in page
    pixels; an upside-down line starts at its bottom-right), its text and its mean confidence."""

    polygon: list[list[float]]
    text: str
    confidence: float

    def to_dict(self) -> dict:
        return {"polygon": self.polygon, "text": self.text, "confidence": self.confidence}


@dataclass(frozen=True)
class PageResult:
    """The lines of a page in reading order, the paragraphs and tables they form (their indices
    into ``lines``), and the page's size."""

    lines: list[PageLine]
    width: int
    height: int
    blocks: list[Block]

    @classmethod
    def arranged(cls, lines: list[PageLine], width: int, height: int) -> PageResult:
        """The lines, in any order, put in reading order and grouped into blocks."""
        order, blocks = reorder(layout([np.array(line.polygon) for line in lines]))
        return cls([lines[i] for i in order], width, height, blocks)

    @property
    def text(self) -> str:
        """The blocks' texts, a blank line between blocks: a paragraph's rows on their own lines, a
        table's rows with their cells split by tabs; columns one after another."""
        return layout_text(self.blocks, self._texts(), self._quads())

    def to_dict(self) -> dict:
        """The page, its text, its lines, and its blocks with their own lines (the lines again)."""
        texts, boxes = self._texts(), box_bounds(self._quads())
        return {"width": self.width, "height": self.height, "text": self.text,
                "lines": [line.to_dict() for line in self.lines],
                "blocks": [self._block_dict(block, texts, boxes) for block in self.blocks]}

    def _block_dict(self, block: Block, texts: list[str], boxes: np.ndarray) -> dict:
        record: dict = {"kind": block.kind, "column": block.column, "text": block_text(block, texts, boxes)}
        if block.kind == TABLE:
            record["cells"] = [{"row": row, "col": col, "text": cell_text(cell, texts, boxes),
                                "lines": [self.lines[i].to_dict() for i in cell]} for row, col, cell in block.cells()]
        else:
            record["lines"] = [self.lines[i].to_dict() for i in block.lines]
        return record

    def _texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def _quads(self) -> list[np.ndarray]:
        return [np.array(line.polygon) for line in self.lines]


class PageReader:
    """Reads pages: ``reader(image) -> PageResult``.

    Without a recogniser it only detects: every line's text is empty and its confidence is the
    detector's score for the box.
    """

    def __init__(self, detector: Detector, recognizer: Recognizer | None = None,
                 recheck_below: float = RECHECK_BELOW) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.recheck_below = recheck_below

    @classmethod
    def from_paths(cls, model: str | Path | None = None, detector: str | Path = DEFAULT_DETECTOR,
                   num_threads: int | None = None, boxes_only: bool = False, decoder: str = "auto",
                   reread: bool = True) -> PageReader:
        """``model``: a recogniser (``.onnx``, model folder or ``.pt``; None or a shipped name: that shipped model);
        ``detector``: a name from :data:`~thaiocr.det.detector.DETECTORS` or a DB detector's ``.onnx`` file;
        ``boxes_only``: detect without reading; ``decoder``, ``reread``: as :class:`~thaiocr.predict.Recognizer`
        takes them."""
        found = _detector(detector, num_threads)  # first: a bad detector name fails before a model loads
        return cls(found, None if boxes_only else Recognizer(model, num_threads, decoder, reread))

    def __call__(self, image: Image.Image) -> PageResult:
        image = image.convert("RGB")
        regions = self.detector(image)
        if self.recognizer is None or not regions:
            readings = [(Prediction("", region.score), False) for region in regions]
        else:
            crops = [crop_line(image, region.quad) for region in regions]
            readings = read_crops(self.recognizer, crops, self.recheck_below)
        lines = [_page_line(region, prediction, turned)
                 for region, (prediction, turned) in zip(regions, readings, strict=True)]
        return PageResult.arranged(lines, image.width, image.height)


def read_crops(recognizer: Recognizer, crops: list[Image.Image],
               recheck_below: float = RECHECK_BELOW) -> list[tuple[Prediction, bool]]:
    """Each crop's reading and whether it was read turned 180 degrees.

    All crops are read in one batched call (the recogniser cuts a line wider than its input at gaps
    and joins the pieces' readings, see :mod:`thaiocr.linecut`); those read with a confidence below ``recheck_below``
    are read again turned (a second call) and keep the more confident of their two readings.
    """
    readings = [(prediction, False) for prediction in recognizer(crops)]
    doubtful = [i for i, (prediction, _) in enumerate(readings) if prediction.confidence < recheck_below]
    if doubtful:
        turned = recognizer([crops[i].transpose(Image.Transpose.ROTATE_180) for i in doubtful])
        for i, prediction in zip(doubtful, turned, strict=True):
            if prediction.confidence > readings[i][0].confidence:
                readings[i] = (prediction, True)
    return readings


def _detector(detector: str | Path, num_threads: int | None) -> Detector:
    if str(detector) in DETECTORS:
        return load_detector(str(detector), num_threads=num_threads)
    path = Path(detector)
    if path.suffix.lower() == ".onnx":
        if not path.is_file():
            raise ThaiOCRError(f"{path}: detector model not found")
        return DBDetector.from_onnx(path, path.stem, num_threads=num_threads)
    raise ThaiOCRError(f"unknown detector {str(detector)!r}: give one of {', '.join(DETECTORS)} or a DB .onnx file")


def _page_line(region: TextRegion, prediction: Prediction, turned: bool) -> PageLine:
    quad = np.roll(region.quad, -2, axis=0) if turned else region.quad
    polygon = [[round(float(x), 1), round(float(y), 1)] for x, y in quad]
    return PageLine(polygon, prediction.text, round(float(prediction.confidence), 4))


def crop_line(image: Image.Image, quad: np.ndarray, pad_y: float = CROP_PAD_Y, pad_x: float = CROP_PAD_X,
              reach: float = MARK_REACH) -> Image.Image:
    """The quadrilateral (clockwise from top-left) straightened into an upright rectangle, grown at
    each end by ``pad_x`` of its height, and above and below as far as ink continues past its edges.

    A recogniser reads a tight crop best (a fixed margin of 0.3 box heights made the digits model's
    page CER 7 times worse), but a detector's box can cut off stacked marks: so rows are added beyond
    each edge while ink is found within ``reach`` of the box's height, up to ``pad_y`` of it. Only
    the box's own columns are looked at, and a table rule is never crossed.
    """
    quad = np.asarray(quad, dtype=np.float32)
    height = float(np.linalg.norm(quad[3] - quad[0]))
    width = float(np.linalg.norm(quad[1] - quad[0]))
    region = straighten(image, quad, pad_y, pad_x)
    inner_top, inner_left = round(pad_y * height), round(pad_x * height)
    inner_bottom = min(region.height, inner_top + max(1, round(height))) - 1
    rows = row_kinds(region.crop((inner_left, 0, inner_left + max(1, round(width)), region.height)))
    step = max(1, round(reach * height))
    top = _ink_edge(rows, inner_top, -1, step)
    bottom = _ink_edge(rows, inner_bottom, 1, step)
    return region.crop((0, top, region.width, bottom + 1))


def straighten(image: Image.Image, quad: np.ndarray, pad_y: float, pad_x: float) -> Image.Image:
    """The quadrilateral straightened into a rectangle, grown by ``pad_y`` of its height above and
    below and ``pad_x`` at each end."""
    quad = np.asarray(quad, dtype=np.float32)
    width = float(np.linalg.norm(quad[1] - quad[0]))
    height = float(np.linalg.norm(quad[3] - quad[0]))
    along = (quad[1] - quad[0]) / max(width, 1e-6)
    across = (quad[3] - quad[0]) / max(height, 1e-6)
    dx, dy = along * pad_x * height, across * pad_y * height
    top_left, top_right = quad[0] - dx - dy, quad[1] + dx - dy
    bottom_right, bottom_left = quad[2] + dx + dy, quad[3] - dx + dy
    size = (max(1, round(width + 2 * pad_x * height)), max(1, round(height * (1 + 2 * pad_y))))
    corners = np.concatenate([top_left, bottom_left, bottom_right, top_right]).tolist()
    return image.transform(size, Image.Transform.QUAD, corners, resample=Image.Resampling.BILINEAR,
                           fillcolor=_edge_colour(image))


def ink_darkness(crop: Image.Image) -> np.ndarray:
    """Per pixel, 0 (the crop's background) to 1 (its darkest ink)."""
    grey = np.asarray(crop.convert("L"), dtype=np.float32)
    background, darkest = np.percentile(grey, 90), np.percentile(grey, 2)
    return np.clip((background - grey) / max(background - darkest, 1.0), 0, 1)


BLANK, INK, RULE = 0, 1, 2


def row_kinds(crop: Image.Image) -> np.ndarray:
    """Per row: ``BLANK`` (under 2 clearly inked pixels), ``RULE`` (inked across most of the width)
    or ``INK``. Columns inked almost all the way down (a vertical rule) are left out."""
    inked = ink_darkness(crop) > 0.5
    inked = inked[:, inked.mean(axis=0) < 0.9]
    counts = inked.sum(axis=1)
    kinds = np.where(counts < 2, BLANK, INK)
    return np.where(counts > RULE_SHARE * max(inked.shape[1], 1), RULE, kinds)


def _ink_edge(rows: np.ndarray, start: int, direction: int, reach: int) -> int:
    """The furthest row from ``start`` (moving up, -1, or down, +1) reached by stepping over blank
    runs shorter than ``reach`` and never over a rule: the edge of the ink past a box's edge."""
    edge, row, run = start, start, 0
    while 0 <= row + direction < len(rows) and run < reach:
        row += direction
        if rows[row] == RULE:
            break
        run = run + 1 if rows[row] == BLANK else 0
        if rows[row] == INK:
            edge = row
    return edge


def _edge_colour(image: Image.Image) -> tuple[int, ...]:
    """The page's commonest corner colour, for the parts of a padded crop that fall off the page."""
    corners = [image.getpixel((x, y)) for x in (0, image.width - 1) for y in (0, image.height - 1)]
    return max(corners, key=corners.count)  # type: ignore[arg-type,return-value]


# --- drawing ------------------------------------------------------------------------------------


def draw_result(image: Image.Image, result: PageResult, font_path: Path | None = None) -> Image.Image:
    """A copy of the page with each line's box and, above it, its text (raqm layout, a Thai font)."""
    canvas = image.convert("RGB")
    draw = ImageDraw.Draw(canvas)
    path = font_path or label_font_path()
    for line in result.lines:
        points = [tuple(p) for p in line.polygon]
        draw.polygon(points, outline=(220, 30, 30), width=2)
        if line.text:
            _draw_label(draw, line, path)
    return canvas


def _draw_label(draw: ImageDraw.ImageDraw, line: PageLine, font_path: Path) -> None:
    xs, ys = [p[0] for p in line.polygon], [p[1] for p in line.polygon]
    size = max(12, round((max(ys) - min(ys)) * 0.45))
    face = ImageFont.truetype(str(font_path), size, layout_engine=ImageFont.Layout.RAQM)
    left, top, right, bottom = draw.textbbox((0, 0), line.text, font=face)
    x, y = min(xs), min(ys) - (bottom - top) - 4
    if y < 0:
        y = max(ys) + 2
    draw.rectangle((x + left - 2, y + top - 2, x + right + 2, y + bottom + 2), fill=(255, 255, 210))
    draw.text((x, y), line.text, font=face, fill=(0, 0, 160))


def label_font_path() -> Path:
    """A clear installed Thai font for labels (see :data:`LABEL_FONT_FAMILIES`)."""
    from thaiocr.synth.fonts import discover_fonts

    fonts = discover_fonts()
    for family in LABEL_FONT_FAMILIES:
        for font in fonts:
            if font.name == family:
                return font.path
    return fonts[0].path


def image_format_for(path: Path) -> str:
    """Pillow's format name for a file name's suffix (``PNG`` for ``.png``); an error names the file."""
    image_format = Image.registered_extensions().get(Path(path).suffix.lower())
    if image_format is None:
        raise ThaiOCRError(f"{path}: unknown image format; use .png or .jpg")
    return image_format


def write_drawing(path: Path, image: Image.Image, result: PageResult) -> Path:
    """Save :func:`draw_result` to ``path`` (PNG, JPEG, ... by its suffix), atomically."""
    from thaiocr.fileio import atomic_write

    image_format = image_format_for(path)
    drawn = draw_result(image, result)
    return atomic_write(Path(path), lambda stream: drawn.save(stream, format=image_format))
