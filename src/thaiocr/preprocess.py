"""The one preprocessing path shared by training, evaluation, export checks, prediction and serving.

It follows PaddleOCR's recognition contract: 3 channels in BGR order, fixed height, width from the
aspect ratio (capped at the configured maximum: training squeezes a wider line, reading cuts it
into pieces, see :mod:`thaiocr.linecut`), values ``(x / 255 - 0.5) / 0.5``, batches
right-padded with 0 (after normalisation) to the widest image in the batch.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from thaiocr.errors import ThaiOCRError

MIN_WIDTH = 8  # models divide the width by 4 to 8 (PPLCNetV3); narrower images would give no time step
# A line is read in at most this many pieces of the model's width (at 48 x 720: 5,760 px, some 280
# Thai characters); a longer strip is squeezed to that, which bounds what a decoded line holds.
MAX_PIECES = 8


class ImageError(ThaiOCRError):
    """An image that cannot be read or decoded."""


def open_image(source: str | Path | bytes | Image.Image | np.ndarray) -> Image.Image:
    """Decode an image file, bytes, PIL image or decoded array into RGB; errors name the file.

    An array is taken as cv2 gives it: uint8, grayscale ``[H, W]`` or BGR ``[H, W, 3]``.
    """
    if isinstance(source, Image.Image):
        return source.convert("RGB")
    if isinstance(source, np.ndarray):
        return _array_to_image(source)
    name = "<bytes>" if isinstance(source, bytes) else str(source)
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise ImageError(f"{name}: image file not found") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot open image ({exc.strerror})") from None
    try:
        with stream, Image.open(stream) as img:
            img.load()
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: not a readable image ({exc})") from None


def _array_to_image(array: np.ndarray) -> Image.Image:
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ImageError(f"expected a uint8 [H, W] or BGR [H, W, 3] array, got {array.dtype} {array.shape}")
    rgb = array if array.ndim == 2 else np.ascontiguousarray(array[:, :, ::-1])
    return Image.fromarray(rgb).convert("RGB")


@dataclass(frozen=True)
class Preprocess:
    """Input geometry of a recognition model: ``image_shape = [3, height, max_width]``."""

    height: int = 32
    max_width: int = 128

    @classmethod
    def from_image_shape(cls, image_shape: list[int] | tuple[int, ...]) -> Preprocess:
        if len(image_shape) != 3 or image_shape[0] != 3 or min(image_shape) <= 0:
            raise ThaiOCRError(f"image_shape must be [3, height, width], got {list(image_shape)}")
        return cls(height=int(image_shape[1]), max_width=int(image_shape[2]))

    @property
    def image_shape(self) -> list[int]:
        return [3, self.height, self.max_width]

    def metadata(self) -> dict:
        """What a self-describing artifact records so that others can reproduce the input."""
        return {
            **asdict(self),
            "image_shape": self.image_shape,
            "channel_order": "BGR",
            "scale": 1 / 255,
            "mean": 0.5,
            "std": 0.5,
            "keep_ratio": True,
            "pad_value": 0.0,
        }

    def target_width(self, width: int, height: int) -> int:
        """The width a ``width`` x ``height`` line is read at: scaled to the model's height, aspect
        ratio kept. A line wider than ``max_width`` keeps its width, as the recogniser reads it in
        pieces, up to ``MAX_PIECES`` times ``max_width``; a longer one is squeezed to that."""
        scaled = math.ceil(self.height * width / max(height, 1))
        return max(MIN_WIDTH, min(MAX_PIECES * self.max_width, scaled))

    def resize(self, image: Image.Image) -> np.ndarray:
        """RGB PIL image -> BGR uint8 array of shape ``[height, w, 3]``, aspect ratio kept; an image
        wider than ``max_width`` at the model's height is squeezed to it (as training does)."""
        return _resized_bgr(image, min(self.max_width, self.target_width(*image.size)), self.height)

    def scale(self, image: Image.Image) -> np.ndarray:
        """Like :meth:`resize`, but to :meth:`target_width`: a line wider than ``max_width`` keeps its
        width, for the recogniser to cut into pieces (:func:`thaiocr.linecut.cut_line`)."""
        return _resized_bgr(image, self.target_width(*image.size), self.height)

    def batch(self, resized: list[np.ndarray]) -> np.ndarray:
        """Resized BGR uint8 arrays -> float32 ``[N, 3, height, widest]``, right-padded with 0."""
        widest = max(a.shape[1] for a in resized)
        out = np.zeros((len(resized), 3, self.height, widest), dtype=np.float32)
        for i, arr in enumerate(resized):
            out[i, :, :, : arr.shape[1]] = normalize(arr)
        return out

    def __call__(self, images: list) -> np.ndarray:
        """Images (paths, bytes or PIL) -> the model's input batch."""
        return self.batch([self.resize(open_image(img)) for img in images])


def _resized_bgr(image: Image.Image, width: int, height: int) -> np.ndarray:
    red, green, blue = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR).split()
    return np.array(Image.merge("RGB", (blue, green, red)))  # twice as fast as copying a reversed view


def normalize(bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 ``[H, W, 3]`` -> float32 ``[3, H, W]`` in [-1, 1]."""
    return (bgr.transpose(2, 0, 1).astype(np.float32) / 127.5) - 1.0
