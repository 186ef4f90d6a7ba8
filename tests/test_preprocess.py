import numpy as np
import pytest
from PIL import Image

from thaiocr.preprocess import MAX_PIECES, ImageError, Preprocess, open_image


def test_bgr_arrays_open_as_rgb():
    bgr = np.zeros((4, 5, 3), dtype=np.uint8)
    bgr[:, :, 0] = 255  # blue in BGR order
    assert open_image(bgr).getpixel((0, 0)) == (0, 0, 255)
    assert open_image(np.full((4, 5), 7, dtype=np.uint8)).getpixel((0, 0)) == (7, 7, 7)


def test_unusable_arrays_and_bytes_are_clear_errors():
    with pytest.raises(ImageError, match="uint8"):
        open_image(np.zeros((4, 5, 3), dtype=np.float32))
    with pytest.raises(ImageError, match="not a readable image"):
        open_image(b"not an image")


def test_batches_keep_height_cap_width_and_pad_with_zero():
    pre = Preprocess(height=32, max_width=64)
    batch = pre([np.full((16, 16, 3), 255, dtype=np.uint8), np.full((8, 200, 3), 0, dtype=np.uint8)])
    assert batch.shape == (2, 3, 32, 64)
    assert np.all(batch[0, :, :, :32] == 1.0) and np.all(batch[0, :, :, 32:] == 0.0)
    assert np.all(batch[1] == -1.0)


def test_scale_keeps_a_wide_line_whole_and_is_resize_for_a_line_that_fits():
    pre = Preprocess(height=32, max_width=64)
    rng = np.random.default_rng(0)
    short, wide = (open_image(rng.integers(0, 256, (16, w, 3), dtype=np.uint8)) for w in (30, 100))
    assert np.array_equal(pre.scale(short), pre.resize(short)) and pre.scale(short).shape == (32, 60, 3)
    assert pre.scale(wide).shape == (32, 200, 3) and pre.resize(wide).shape == (32, 64, 3)
    assert pre.target_width(100, 16) == 200


def test_a_strip_longer_than_max_pieces_inputs_is_squeezed_to_that():
    pre = Preprocess(height=32, max_width=64)
    assert pre.target_width(5000, 2) == MAX_PIECES * 64
    assert pre.scale(Image.new("RGB", (5000, 2))).shape == (32, MAX_PIECES * 64, 3)
