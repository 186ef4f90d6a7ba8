"""Searchable PDFs: each page's image with the text read laid over it, invisible, line by line.

``thaiocr ocr scan.pdf --pdf out.pdf`` writes what it read this way, so a PDF viewer finds and
copies the text where it is on the page. Every line becomes a text object in render mode 3
(invisible) in a TrueType font with Thai embedded as a CID font, fitted to the line's box: stretched
along it to its width and across it to its height, turned with it (a line read upside down runs
right to left on the page). Lines go in reading order, so the text a viewer copies comes out in
that order. The page image is embedded as a JPEG filling a page of the size given (a PDF page's
own size, an image's at its resolution: see :class:`~thaiocr.documents.PageInput`). Written with
PDFium (``pypdfium2``, Apache-2.0/BSD).
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write

if TYPE_CHECKING:
    from pypdfium2 import PdfImage, PdfPage

JPEG_QUALITY = 85
# Fonts for the text layer, best first: clear TrueType faces covering Thai and Latin. No glyph is
# ever drawn (the text is invisible); the font maps characters to glyphs and back when text is copied.
PDF_FONT_NAMES = ("Loma", "Garuda", "Sarabun-Regular", "Waree", "Norasi", "Kinnari")
THAI_PROBE = "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรฤลฦวศษสหฬอฮะัาำิีึืุู฿เแโใไๅๆ็่้๊๋์๐๑๒๓๔๕๖๗๘๙"


class LineLike(Protocol):
    """What is laid on a page of a line read (:class:`~thaiocr.page.PageLine`): its quadrilateral,
    clockwise from the text's own top-left corner, in image pixels, and its text."""

    polygon: list[list[float]]
    text: str


def pdf_font_path() -> Path:
    """An installed TrueType font (``.ttf``) that covers Thai, from :data:`PDF_FONT_NAMES` first."""
    from thaiocr.synth.fonts import FONT_INSTALL_HINT, discover_fonts, font_covers

    fonts = [font for font in discover_fonts() if font.path.suffix.lower() == ".ttf" and font_covers(font, THAI_PROBE)]
    if not fonts:
        raise ThaiOCRError(f"--pdf needs a TrueType (.ttf) font covering Thai; none was found: {FONT_INSTALL_HINT}")
    rank = {name: place for place, name in enumerate(PDF_FONT_NAMES)}
    return min(fonts, key=lambda font: rank.get(font.name, len(rank))).path


class SearchablePdf:
    """A PDF being built page by page: ``add_page`` for each page read, then ``save``.

    Use it as a context manager (or call ``close``) to free what PDFium holds.
    """

    def __init__(self, font_path: Path | None = None) -> None:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        self._pdfium, self._c = pdfium, pdfium_c
        self.document = pdfium.PdfDocument.new()
        font_path = Path(font_path or pdf_font_path())
        data = font_path.read_bytes()  # PDFium copies it, and embeds it whole as a CID font (cid=True)
        self._font = pdfium_c.FPDFText_LoadFont(self.document, (ctypes.c_uint8 * len(data)).from_buffer_copy(data),
                                                len(data), pdfium_c.FPDF_FONT_TRUETYPE, True)
        if not self._font:
            self.document.close()
            raise ThaiOCRError(f"{font_path}: PDFium cannot load this font for the text layer")

    def __enter__(self) -> SearchablePdf:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.document)

    def add_page(self, image: Image.Image, lines: Sequence[LineLike], size: tuple[float, float]) -> None:
        """A page of ``size`` (width, height) in points, ``image`` filling it and each line's text over its box."""
        width, height = size
        scale = np.array([width / image.width, height / image.height])
        page = self.document.new_page(width, height)
        try:
            page.insert_obj(self._image(image, width, height))
            for line in lines:
                if line.text.strip():
                    self._add_text(page, line, scale, height)
            page.gen_content()
        finally:
            page.close()

    def save(self, path: Path) -> Path:
        """Write the PDF to ``path`` atomically."""
        return atomic_write(Path(path), lambda stream: self.document.save(stream))

    def close(self) -> None:
        if self._font:
            self._c.FPDFFont_Close(self._font)
            self._font = None
        self.document.close()

    def _image(self, image: Image.Image, width: float, height: float) -> PdfImage:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=JPEG_QUALITY)
        buffer.seek(0)
        embedded = self._pdfium.PdfImage.new(self.document)
        embedded.load_jpeg(buffer, inline=True)
        embedded.set_matrix(self._pdfium.PdfMatrix().scale(width, height))
        return embedded

    def _add_text(self, page: PdfPage, line: LineLike, scale: np.ndarray, page_height: float) -> None:
        """The line's text as an invisible text object, its glyphs' bounds fitted to the line's box."""
        c = self._c
        corners = np.asarray(line.polygon, dtype=np.float64) * scale
        corners[:, 1] = page_height - corners[:, 1]  # PDF space grows upwards
        along, up = corners[1] - corners[0], corners[0] - corners[3]
        size = max(float(np.linalg.norm(up)), 1.0)
        text = c.FPDFPageObj_CreateTextObj(self.document, self._font, size)
        encoded = ctypes.create_string_buffer((line.text + "\0").encode("utf-16-le"))
        if not c.FPDFText_SetText(text, ctypes.cast(encoded, c.FPDF_WIDESTRING)):
            c.FPDFPageObj_Destroy(text)
            return
        c.FPDFTextObj_SetTextRenderMode(text, c.FPDF_TEXTRENDERMODE_INVISIBLE)
        left, bottom, right, top = (ctypes.c_float() for _ in range(4))
        c.FPDFPageObj_GetBounds(text, left, bottom, right, top)
        stretch = along / max(right.value - left.value, 1e-3)
        lift = up / max(top.value - bottom.value, 1e-3)
        origin = corners[3] - left.value * stretch - bottom.value * lift
        c.FPDFPageObj_Transform(text, *stretch, *lift, *origin)
        c.FPDFPage_InsertObject(page, text)
