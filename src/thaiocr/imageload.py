"""Decoding untrusted images within a pixel budget, toward the size they will be read at.

The server and ``thaiocr predict``/``ocr`` take images from users. A small compressed file can
hold a huge picture (a 11 KB PNG of 6000 x 6000 one-bit pixels is 108 MB as RGB), so the size is
checked from the header before anything is decoded, and a line image, which the model reads at a
few dozen pixels high, is shrunk as it is decoded: JPEG decodes straight at a fraction of its size
(``Image.draft``) and large images are box-reduced before the final bilinear resize
(``reducing_gap``). An image within twice ``REDUCING_GAP`` times the target size is resized exactly
as :meth:`thaiocr.preprocess.Preprocess.resize` would, so its reading does not change.

Every failure is an :class:`~thaiocr.preprocess.ImageError` whose message starts with the name
given (a path, or ``image 3`` of a request); :class:`TooManyPixels` says which limit was passed.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from thaiocr.preprocess import ImageError, Preprocess

DEFAULT_MAX_PIXELS = 40_000_000  # the largest image the commands and the server decode by default
# Past this factor between the image and the target size, the image is first reduced by whole-pixel
# averaging (fast, little memory); below it the bilinear resize alone runs, as in Preprocess.resize.
REDUCING_GAP = 3.0
# Pillow's own hard stop (twice Image.MAX_IMAGE_PIXELS): ``Image.open`` refuses larger images itself.
PILLOW_LIMIT = 2 * (Image.MAX_IMAGE_PIXELS or 0)

# Our limits are checked on every image before it is decoded, so Pillow's softer warning (between
# MAX_IMAGE_PIXELS and twice that) would only repeat, less clearly, what the caller has allowed.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

Source = bytes | str | Path
TargetSize = Callable[[int, int], tuple[int, int]]


class TooManyPixels(ImageError):
    """An image (or a request's images together) over a pixel limit."""


def line_target(preprocess: Preprocess) -> TargetSize:
    """The size a line image of (width, height) is read at by a model with this preprocessing."""
    return lambda width, height: (preprocess.target_width(width, height), preprocess.height)


def pixel_limit_message(name: str, what: str, pixels: int, limit: int, option: str) -> str:
    """``name: 6000x6000 is 36,000,000 pixels; the limit is 4,000,000 (--max-line-pixels)``."""
    return f"{name}: {what} is {pixels:,} pixels; the limit is {limit:,} ({option})"


@contextmanager
def opened(source: Source, name: str, limit: int, option: str) -> Iterator[Image.Image]:
    """``Image.open`` on a path or bytes, every failure to reach or identify it an ``ImageError``.

    ``limit`` and ``option`` word the refusal of an image so large that Pillow will not open it."""
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise ImageError(f"{name}: image file not found") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, not an image file") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot open image ({exc.strerror})") from None
    with stream:
        try:
            image = Image.open(stream)
        except Image.DecompressionBombError as exc:
            raise TooManyPixels(_bomb_message(name, str(exc), limit, option)) from None
        except UnidentifiedImageError:
            raise ImageError(f"{name}: {_not_an_image(stream)}") from None
        except Exception as exc:  # Pillow's format plugins raise many types on corrupt headers
            raise ImageError(f"{name}: not a readable image ({exc})") from None
        with image:
            yield image


def _bomb_message(name: str, pillow_message: str, limit: int, option: str) -> str:
    """Our words for Pillow's refusal, with the pixel count its message gives."""
    found = re.search(r"\((\d+) pixels\)", pillow_message)
    if found:
        return pixel_limit_message(name, "the image", int(found[1]), limit, option)
    return f"{name}: the image has over {PILLOW_LIMIT:,} pixels; the limit is {limit:,} ({option})"


def _not_an_image(stream: io.IOBase) -> str:
    stream.seek(0, io.SEEK_END)
    return "empty file (0 bytes)" if stream.tell() == 0 else "not a readable image (no format Pillow reads)"


def image_size(source: Source, name: str, limit: int, option: str) -> tuple[int, int]:
    """(width, height) from the header alone; ``limit`` and ``option`` as for :func:`opened`."""
    with opened(source, name, limit, option) as image:
        return image.size


def check_pixels(image: Image.Image, name: str, limit: int, option: str) -> None:
    width, height = image.size
    if width * height > limit:
        raise TooManyPixels(pixel_limit_message(name, f"{width}x{height}", width * height, limit, option))


def decode(source: Source, name: str, max_pixels: int, option: str = "--max-pixels",
           target: TargetSize | None = None) -> Image.Image:
    """An RGB image of ``source``, refused before decoding when over ``max_pixels``.

    ``target(width, height)`` gives the size the image will be read at (for a line, the model's
    height and the width that keeps the aspect ratio); the image is decoded toward it and returned at
    that size, so no full-size RGB copy is ever made. Without ``target`` the image keeps its size.
    """
    with opened(source, name, max_pixels, option) as image:
        check_pixels(image, name, max_pixels, option)
        try:
            return _decode_opened(image, target)
        except Exception as exc:  # truncated or corrupt data: Pillow's decoders raise many types
            raise ImageError(f"{name}: not a readable image ({exc})") from None


def _decode_opened(image: Image.Image, target: TargetSize | None) -> Image.Image:
    if target is None:
        image.load()
        return image.convert("RGB")
    size = target(*image.size)
    # JPEG decodes at 1/2, 1/4 or 1/8 scale, never below the size asked: asking for REDUCING_GAP
    # times the target keeps images within that factor decoded (and so read) exactly as before.
    image.draft(None, (round(size[0] * REDUCING_GAP), round(size[1] * REDUCING_GAP)))
    image.load()
    # Resizing "1" and "P" images would fall back to nearest-neighbour; "L" and "RGB" resize as they are.
    working = image if image.mode in ("L", "RGB") else image.convert("L" if image.mode == "1" else "RGB")
    if working.size != size:
        working = working.resize(size, Image.Resampling.BILINEAR, reducing_gap=REDUCING_GAP)
    return working.convert("RGB")
