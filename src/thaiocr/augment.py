"""Per-epoch variations of cached line images (the ``RecAug`` transform of a recipe).

Training images are decoded once and cached; without this every epoch would show the model the
very same pixels. Each sample of each epoch gets its own seeded variation, so a resumed run sees
what an uninterrupted one would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from thaiocr.preprocess import MIN_WIDTH

STRETCH = (0.8, 1.25)  # width factor range: fonts differ in how wide they set the same digits
STROKE_PROBABILITY = 0.2  # each of thicker and thinner strokes: fonts differ in weight too


@dataclass(frozen=True)
class LineAugment:
    seed: int
    max_width: int
    epoch: int = 0

    def __call__(self, image: np.ndarray, index: int) -> np.ndarray:
        """A variation of one resized ``[H, w, 3]`` uint8 image, the same for the same (epoch, index)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        line = Image.fromarray(image)
        line = self._stretch(line, rng)
        draw = rng.random()
        if draw < STROKE_PROBABILITY:
            line = line.filter(ImageFilter.MinFilter(3))
        elif draw < 2 * STROKE_PROBABILITY:
            line = line.filter(ImageFilter.MaxFilter(3))
        return np.asarray(line)

    def _stretch(self, line: Image.Image, rng: np.random.Generator) -> Image.Image:
        width = round(line.width * rng.uniform(*STRETCH))
        width = max(MIN_WIDTH, min(self.max_width, width))
        return line.resize((width, line.height), Image.Resampling.BILINEAR)
