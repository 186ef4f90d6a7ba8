"""Lossless PNG bytes for synthetic lines, about twice as fast as Pillow's encoder.

Pillow tries five row filters on every row and keeps the best; on text lines that buys ~4%
smaller files for half the encoding time. Here every row uses the Up filter (the row minus the
row above, one vectorised subtraction): flat paper becomes zeros, and noisy paper gains little
from any filter. The output is a plain 8-bit RGB or greyscale PNG that any decoder reads, and the
same pixels always give the same bytes (zlib is deterministic for a given level).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 3: 2}  # channels -> PNG colour type: greyscale, truecolour
UP_FILTER = 2
ZLIB_LEVEL = 1  # level 6 is several times slower for files a few percent smaller


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8 ``[height, width]`` (grey) or ``[height, width, 3]`` (RGB) array."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError(f"expected uint8 [h, w] or [h, w, 3] pixels, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    header = struct.pack(">IIBBBBB", width, height, 8, COLOUR_TYPES[channels], 0, 0, 0)
    data = zlib.compress(_up_filtered(pixels.reshape(height, width * channels)), ZLIB_LEVEL)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _up_filtered(rows: np.ndarray) -> bytes:
    """Each row as its filter byte then the row minus the row above (the first row minus zeros)."""
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = UP_FILTER
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # uint8 arithmetic wraps modulo 256, as PNG wants
    return filtered.tobytes()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
