"""Reading the HTTP requests of :mod:`thaiocr.server`: bodies to encoded images, images decoded within limits.

A request carries its images as raw bytes (any ``image/*`` type, or SageMaker's
``application/x-image``), as JSON with base64 images, or as a multipart upload; it may state a
mode (``line`` or ``page``) in the JSON, a form field or SageMaker's custom attributes header.
:func:`read_image_request` turns any of them into an :class:`ImageRequest`, :func:`image_sizes`
reads the images' sizes from their headers, and :func:`decode_image` turns one image into RGB
pixels (see :mod:`thaiocr.imageload`), checking its size before decoding it.

Everything that is wrong with a request is raised as an :class:`ApiError`, which the app answers as
``{"error": code, "detail": message}``; the rest of the server raises it too. This module knows
nothing of the model, the batcher or the app, so the input rules can be read and tested alone.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from PIL import Image
from starlette.datastructures import UploadFile

from thaiocr.imageload import TargetSize, TooManyPixels, decode, image_size
from thaiocr.preprocess import ImageError

MODES = ("line", "page")
# Bodies sent as one raw image: any image/* type, SageMaker's application/x-image, or plain bytes.
RAW_IMAGE_TYPES = frozenset({"application/x-image", "application/octet-stream"})
SAGEMAKER_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"


class ApiError(Exception):
    """An error answered as ``{"error": code, "detail": detail}`` with an HTTP status."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ImageRequest:
    """The encoded images of a request and the mode it asked for (None: not stated)."""

    blobs: list[bytes]
    mode: str | None = None


async def read_image_request(request: Request) -> ImageRequest:
    """Raw image bytes, JSON with base64 images, or a multipart upload: whichever the content type says."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("image/") or media in RAW_IMAGE_TYPES:
        body = await request.body()
        if not body:
            raise ApiError(400, "empty_body", "the request has no image bytes")
        return ImageRequest([body], _mode_from_attributes(request.headers.get(SAGEMAKER_ATTRIBUTES, "")))
    if media == "application/json":
        return parse_json_request(await request.body())
    if media == "multipart/form-data":
        return await _read_multipart(request)
    raise ApiError(
        415, "unsupported_media_type",
        f"content type {media or '(none)'!r} is not supported; send an image (image/png, image/jpeg, ...), "
        "application/json with base64 images, or multipart/form-data",
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
    sizes = []
    for index, blob in enumerate(blobs):
        try:
            sizes.append(image_size(blob, f"image {index}", limit, option))
        except TooManyPixels as exc:
            raise ApiError(413, "too_many_pixels", str(exc)) from None
        except ImageError as exc:
            raise ApiError(400, "bad_image", str(exc)) from None
    return sizes
