"""Reading the HTTP requests of :mod:`thaiocr.server`: bodies to encoded images, images decoded within limits.

A request carries its images as raw bytes (any ``image/*`` type, or SageMaker's
``application/x-image``), as JSON with base64 images, or as a multipart upload; it may state a
mode (``line`` or ``page``) in the JSON, a form field or SageMaker's custom attributes header.
:func:`read_image_request` turns any of them into an :class:`ImageRequest`, :func:`image_sizes`
reads the images' sizes from their headers, and :func:`decode_image` turns one image into RGB
pixels (see :mod:`thaiocr.imageload`), checking its size before decoding it.

A PDF (``application/pdf``, or any of the above starting with ``%PDF-``) is read in page mode,
each of its pages a page: :func:`request_pages` lists every page of a request's images and PDFs
with its size, read from the image headers and the PDFs' page sizes before anything is decoded or
rendered, and a way to load it (see :mod:`thaiocr.documents`).

Everything that is wrong with a request is raised as an :class:`ApiError`, which the app answers as
``{"error": code, "detail": message}``; the rest of the server raises it too. This module knows
nothing of the model, the batcher or the app, so the input rules can be read and tested alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from PIL import Image
from starlette.datastructures import UploadFile

from thaiocr.documents import DEFAULT_DPI, PdfError, open_pdf, pdf_page_size, render_pdf_page
from thaiocr.imageload import TargetSize, TooManyPixels, decode, image_size
from thaiocr.preprocess import ImageError

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument

MODES = ("line", "page")
# Bodies sent as one raw image: any image/* type, SageMaker's application/x-image, or plain bytes.
RAW_IMAGE_TYPES = frozenset({"application/x-image", "application/octet-stream", "application/pdf"})
SAGEMAKER_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
PDF_MAGIC = b"%PDF-"
PDF_DPI = DEFAULT_DPI  # what a PDF's pages are rendered at, as `thaiocr ocr` does by default


class ApiError(Exception):
    """An error answered as ``{"error": code, "detail": detail}`` with an HTTP status."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImageRequest:
    """The encoded images (or PDFs) of a request and the mode it asked for (None: not stated)."""

    blobs: list[bytes]
    mode: str | None = None

    @property
    def has_pdf(self) -> bool:
        return any(is_pdf(blob) for blob in self.blobs)


def is_pdf(blob: bytes) -> bool:
    return blob.startswith(PDF_MAGIC)


@dataclass(frozen=True)
class PageSource:
    """One page of a request: the index of its image (or PDF) in the request, its 1-based number
    within it, its name in messages, its size in pixels, and ``load()`` to decode (or render) it."""

    image: int
    number: int
    name: str
    size: tuple[int, int]
    load: Callable[[], Image.Image]

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1]


async def read_image_request(request: Request) -> ImageRequest:
    """Raw image bytes, JSON with base64 images, or a multipart upload: whichever the content type says."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("image/") or media in RAW_IMAGE_TYPES:
        body = await request.body()
        if not body:
            raise ApiError(400, "empty_body", "the request has no image bytes")
        if media == "application/pdf" and not is_pdf(body):
            raise ApiError(400, "bad_pdf", "image 0: the body is sent as application/pdf but does not start with %PDF-")
        return ImageRequest([body], _mode_from_attributes(request.headers.get(SAGEMAKER_ATTRIBUTES, "")))
    if media == "application/json":
        return parse_json_request(await request.body())
    if media == "multipart/form-data":
        return await _read_multipart(request)
    raise ApiError(
        415, "unsupported_media_type",
        f"content type {media or '(none)'!r} is not supported; send an image (image/png, image/jpeg, ...), "
        "a PDF (application/pdf), application/json with base64 images, or multipart/form-data",
    )


def parse_json_request(body: bytes) -> ImageRequest:
    """``{"image": b64}`` or ``{"images": [b64, ...]}``, with an optional ``"mode"``."""
    try:
        payload = json.loads(body)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise ApiError(400, "bad_json", f"the body is not valid JSON ({exc})") from None
    except RecursionError:  # arrays or objects nested deeper than Python's recursion limit
        raise ApiError(400, "bad_json", "the body nests arrays or objects too deeply") from None
    if not isinstance(payload, dict) or ("image" in payload) == ("images" in payload):
        raise ApiError(400, "bad_json", 'send a JSON object with "image" (base64) or "images" (a list of base64)')
    encoded = [payload["image"]] if "image" in payload else payload["images"]
    if not isinstance(encoded, list) or not encoded:
        raise ApiError(400, "bad_json", '"images" must be a non-empty list of base64 strings')
    mode = payload.get("mode")
    if mode is not None and mode not in MODES:
        raise ApiError(400, "bad_mode", f'"mode" must be one of {", ".join(MODES)}, got {mode!r}')
    return ImageRequest([decode_base64(text, i) for i, text in enumerate(encoded)], mode)


def decode_base64(text: object, index: int) -> bytes:
    """Standard base64, line breaks allowed, an optional ``data:image/...;base64,`` prefix dropped."""
    if not isinstance(text, str):
        raise ApiError(400, "bad_base64", f"image {index}: expected a base64 string, got {type(text).__name__}")
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "bad_base64", f"image {index}: not valid base64 ({exc})") from None
    if not data:
        raise ApiError(400, "bad_base64", f"image {index}: empty")
    return data


async def _read_multipart(request: Request) -> ImageRequest:
    """Every uploaded file of the form, in order; an optional ``mode`` field."""
    async with request.form() as form:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        blobs = [await upload.read() for upload in files]
        mode = form.get("mode")
    if not blobs:
        raise ApiError(400, "no_images", "the form holds no files; upload one or more images")
    if mode is not None and mode not in MODES:
        raise ApiError(400, "bad_mode", f'"mode" must be one of {", ".join(MODES)}, got {mode!r}')
    return ImageRequest(blobs, mode if isinstance(mode, str) else None)


def _mode_from_attributes(attributes: str) -> str | None:
    """``mode=page`` in SageMaker's custom attributes header (``key=value`` pairs, comma-separated)."""
    for pair in attributes.replace(";", ",").split(","):
        key, _, value = pair.partition("=")
        if key.strip() == "mode":
            if value.strip() not in MODES:
                raise ApiError(400, "bad_mode", f"mode must be one of {', '.join(MODES)}, got {value.strip()!r}")
            return value.strip()
    return None


def decode_image(data: bytes, index: int, max_pixels: int, option: str = "--max-pixels",
                 target: TargetSize | None = None) -> Image.Image:
    """Bytes -> RGB image (at ``target``'s size when given); the pixel count is checked from the
    header, before decoding, against ``max_pixels`` (the server option ``option`` sets)."""
    try:
        return decode(data, f"image {index}", max_pixels, option, target)
    except TooManyPixels as exc:
        raise ApiError(413, "too_many_pixels", str(exc)) from None
    except ImageError as exc:
        raise ApiError(400, "bad_image", str(exc)) from None


def image_sizes(blobs: Sequence[bytes], limit: int, option: str) -> list[tuple[int, int]]:
    """Each image's (width, height), read from its header alone; a bad header is a 400, an image
    too large for Pillow to open a 413 that names ``limit`` and ``option``."""
    return [_image_size(blob, index, limit, option) for index, blob in enumerate(blobs)]


def _image_size(blob: bytes, index: int, limit: int, option: str) -> tuple[int, int]:
    try:
        return image_size(blob, f"image {index}", limit, option)
    except TooManyPixels as exc:
        raise ApiError(413, "too_many_pixels", str(exc)) from None
    except ImageError as exc:
        raise ApiError(400, "bad_image", str(exc)) from None


@contextmanager
def request_pages(blobs: Sequence[bytes], limit: int, max_pages: int,
                  option: str = "--max-pixels") -> Iterator[list[PageSource]]:
    """Every page of the request's images (one each) and PDFs (each of their pages, rendered at
    :data:`PDF_DPI`), with their sizes; the PDFs stay open until the context ends. More than
    ``max_pages`` is a 413 (``too_many_images``), found before any page is sized; a damaged or
    encrypted PDF a 400 (``bad_pdf``); a bad image header as in :func:`image_sizes`."""
    with ExitStack() as stack:
        pages: list[PageSource] = []
        for index, blob in enumerate(blobs):
            if not is_pdf(blob):
                size = _image_size(blob, index, limit, option)
                pages.append(PageSource(index, 1, f"image {index}", size, _image_loader(blob, index, limit, option)))
                continue
            try:
                document = stack.enter_context(open_pdf(blob, f"image {index}"))
                if not len(document):
                    raise PdfError(f"image {index}: the PDF has no pages")
                _check_page_count(len(pages) + len(document) + len(blobs) - index - 1, max_pages)
                pages += [_pdf_page(document, index, number) for number in range(1, len(document) + 1)]
            except PdfError as exc:
                raise ApiError(400, "bad_pdf", str(exc)) from None
        yield pages


def _check_page_count(count: int, max_pages: int) -> None:
    if count > max_pages:
        raise ApiError(413, "too_many_images", f"{count} pages in one request (each page of a PDF counts); "
                                               f"the limit is {max_pages}")


def _image_loader(blob: bytes, index: int, limit: int, option: str) -> Callable[[], Image.Image]:
    return lambda: decode_image(blob, index, limit, option)


def _pdf_page(document: PdfDocument, index: int, number: int) -> PageSource:
    size = pdf_page_size(document, number, PDF_DPI, f"image {index}")

    def render() -> Image.Image:
        try:
            return render_pdf_page(document, number, PDF_DPI, f"image {index}")
        except PdfError as exc:
            raise ApiError(400, "bad_pdf", str(exc)) from None

    return PageSource(index, number, f"image {index} page {number}", size, render)
