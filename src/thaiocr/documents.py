"""Documents as pages: PDFs, multi-page TIFFs, folders of images and single images.

``thaiocr ocr`` reads whatever a user has: :func:`document_pages` turns each input into its pages,
one :class:`PageInput` at a time, each already decoded within the pixel budget or carrying the
reason it could not be (a corrupt or encrypted PDF, a truncated TIFF frame, a page over the
limit), so one bad page is reported by its number and the rest are still read. PDF pages are
rendered with PDFium (``pypdfium2``, Apache-2.0/BSD) at ``dpi``; nothing else is read from them.
The server renders the PDFs sent to it with the same functions (:func:`open_pdf`,
:func:`pdf_page_size`, :func:`render_pdf_page`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageSequence

from thaiocr.errors import ThaiOCRError
from thaiocr.imageload import check_pixels, decode, opened, pixel_limit_message
from thaiocr.preprocess import ImageError

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument

DEFAULT_DPI = 200
MIN_STATED_DPI = 50  # an image stating less (0, 1) states none: its resolution is taken as DEFAULT_DPI
POINTS_PER_INCH = 72  # PDF page sizes are in points
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class PageInput:
    """One page of an input: where it came from (``source``, 1-based ``number`` within it), and
    either its ``image`` or the ``error`` that kept it from being read. ``points``: the size in PDF
    points (1/72 inch) the image covers, a PDF page's own or an image's at the resolution it
    states, for a searchable PDF's pages."""

    source: Path
    number: int
    image: Image.Image | None = None
    error: str | None = None
    points: tuple[float, float] | None = None

    @property
    def name(self) -> str:
        return f"{self.source} page {self.number}"


def parse_pages(text: str) -> set[int]:
    """``"1-3,7"`` -> {1, 2, 3, 7}: the 1-based page numbers ``--pages`` selects."""
    pages: set[int] = set()
    for item in text.split(","):
        found = _RANGE.match(item.strip())
        first, last = (int(found[1]), int(found[2] or found[1])) if found else (0, 0)
        if not found or first < 1 or last < first:
            raise ThaiOCRError(f"--pages {text!r}: {item.strip()!r} is not a page or a range like 2-5 "
                               "(pages count from 1)")
        pages.update(range(first, last + 1))
    return pages


def document_pages(
    inputs: Sequence[Path], pages: set[int] | None = None, dpi: int = DEFAULT_DPI, max_pixels: int = 40_000_000
) -> Iterator[PageInput]:
    """Every selected page of every input, in order: a PDF's or a TIFF's pages, a folder's images
    (sorted by name, each one page), or a single image. A missing input is one failed page."""
    if dpi <= 0:
        raise ThaiOCRError(f"--dpi must be positive, got {dpi}")
    for source in inputs:
        if source.is_dir():
            images = sorted(path for path in source.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                yield PageInput(source, 1, error=f"{source}: no images in this folder ({', '.join(IMAGE_SUFFIXES)})")
            for path in images:
                yield from _select(_image_pages(path, max_pixels), pages)
        elif source.suffix.lower() == ".pdf":
            yield from _select(_pdf_pages(source, dpi, max_pixels), pages)
        else:
            yield from _select(_image_pages(source, max_pixels), pages)


def may_hold_pages(source: Path) -> bool:
    """Whether an input can hold more than one page (a folder, a PDF, a TIFF), from its name alone."""
    return source.is_dir() or source.suffix.lower() in (".pdf", ".tif", ".tiff")


def _select(found: Iterator[PageInput], pages: set[int] | None) -> Iterator[PageInput]:
    return (page for page in found if pages is None or page.number in pages)


def _image_pages(path: Path, max_pixels: int) -> Iterator[PageInput]:
    """A single image, or each frame of a multi-page TIFF (or GIF)."""
    try:
        with opened(path, str(path), max_pixels, "--max-pixels") as image:
            frames = getattr(image, "n_frames", 1)
            if frames == 1:
                decoded = decode(path, str(path), max_pixels)
                yield PageInput(path, 1, decoded, points=image_points(decoded))
                return
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                yield _frame_page(path, number, frame, max_pixels)
    except ImageError as exc:
        yield PageInput(path, 1, error=str(exc))


def _frame_page(path: Path, number: int, frame: Image.Image, max_pixels: int) -> PageInput:
    name = f"{path} page {number}"
    try:
        check_pixels(frame, name, max_pixels, "--max-pixels")
        return PageInput(path, number, frame.convert("RGB"), points=image_points(frame))
    except ImageError as exc:
        return PageInput(path, number, error=str(exc))
    except Exception as exc:  # a truncated or corrupt frame: Pillow's decoders raise many types
        return PageInput(path, number, error=f"{name}: not a readable image ({exc})")


class PdfError(ThaiOCRError):
    """A PDF that cannot be opened (damaged, encrypted, not a PDF) or a page that cannot be rendered."""


def open_pdf(source: Path | bytes, name: str) -> PdfDocument:
    """PDFium's document of a PDF file or of its bytes (which must outlive it); close it after use."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(source)
    except (pdfium.PdfiumError, OSError) as exc:
        raise PdfError(f"{name}: cannot open the PDF ({_pdf_reason(exc)})") from None


def pdf_page_size(document: PdfDocument, number: int, dpi: float, name: str) -> tuple[int, int]:
    """Page ``number``'s (1-based) size in pixels at ``dpi``, from its size in points (nothing rendered)."""
    try:
        width, height = document.get_page_size(number - 1)
    except Exception as exc:  # a damaged page tree
        raise PdfError(f"{name} page {number}: cannot read the page's size ({_pdf_reason(exc)})") from None
    scale = dpi / POINTS_PER_INCH
    return round(width * scale), round(height * scale)


def render_pdf_page(document: PdfDocument, number: int, dpi: float, name: str) -> Image.Image:
    """Page ``number`` (1-based) rendered at ``dpi``: an RGB image.

    The bitmap is ceil(points x scale) pixels, and PDFium keeps points as 32-bit floats: the scale
    is a millionth less than ``dpi`` asks, so that a page a whole number of pixels wide (a scan made
    into a PDF) does not gain a column from their rounding error. The page and its bitmap are closed
    at once rather than left to the garbage collector, which might close them on another thread
    while PDFium (not thread-safe) works on something else."""
    try:
        page = document[number - 1]
        try:
            bitmap = page.render(scale=dpi / POINTS_PER_INCH * (1 - 1e-6))
            image = bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer goes with it
            bitmap.close()
            return image
        finally:
            page.close()
    except Exception as exc:  # PDFium reports a damaged page in several ways
        raise PdfError(f"{name} page {number}: cannot render the page ({_pdf_reason(exc)})") from None


def _pdf_pages(path: Path, dpi: int, max_pixels: int) -> Iterator[PageInput]:
    try:
        document = open_pdf(path, str(path))
    except PdfError as exc:
        yield PageInput(path, 1, error=str(exc))
        return
    with document:
        for number in range(1, len(document) + 1):
            yield _pdf_page(document, path, number, dpi, max_pixels)


def _pdf_page(document: PdfDocument, path: Path, number: int, dpi: int, max_pixels: int) -> PageInput:
    try:
        width, height = pdf_page_size(document, number, dpi, str(path))
        if width * height > max_pixels:
            message = pixel_limit_message(f"{path} page {number}", f"{width}x{height} at {dpi} dpi", width * height,
                                          max_pixels, "--max-pixels, or a lower --dpi")
            return PageInput(path, number, error=message)
        image = render_pdf_page(document, number, dpi, str(path))
        return PageInput(path, number, image, points=document.get_page_size(number - 1))
    except PdfError as exc:
        return PageInput(path, number, error=str(exc))


def image_points(image: Image.Image) -> tuple[float, float]:
    """The image's size in PDF points at the resolution its file states, or at :data:`DEFAULT_DPI`
    when it states none."""
    stated = image.info.get("dpi", (0, 0))
    dpi = [float(value) if value >= MIN_STATED_DPI else DEFAULT_DPI for value in stated[:2]]
    return image.width * POINTS_PER_INCH / dpi[0], image.height * POINTS_PER_INCH / dpi[-1]


def _pdf_reason(exc: Exception) -> str:
    text = str(exc)
    if "password" in text.lower():
        return "it is encrypted; remove the password first"
    return text or type(exc).__name__
