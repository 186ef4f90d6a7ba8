"""Synthetic lines rendered while training (``dataset.name: SynthDataSet``): nothing is written to disk.

Sample ``index`` of ``epoch`` is a pure function of ``(seed, split, epoch, index)``, so DataLoader
worker processes and resumed runs see exactly the lines an uninterrupted run would, and every
training epoch sees new ones. The ``Eval`` split renders its lines once (epoch 0) and keeps them.
A ``SynthDataSet`` with label files mixes those real lines in (each file sampled by its
``ratio_list`` value, as PaddleOCR does) after the synthetic ones.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from tqdm import tqdm

from thaiocr.augment import LineAugment
from thaiocr.batches import RecDataset, load_split
from thaiocr.charset import Charset
from thaiocr.config import DatasetConfig, SynthConfig
from thaiocr.errors import ThaiOCRError
from thaiocr.preprocess import Preprocess
from thaiocr.synth.fonts import discover_fonts
from thaiocr.synth.lines import fonts_by_split, pick_text_and_font, sample_seed
from thaiocr.synth.looks import Look, build_looks, choose_look
from thaiocr.synth.render import render_line

SPLIT_NAMES = {"Train": "train", "Eval": "val"}


class SynthDataset:
    """``(BGR uint8 [H, w, 3] image, text)`` samples rendered on demand, like :class:`RecDataset`'s."""

    def __init__(self, looks: Sequence[Look], count: int, seed: int, split: str, preprocess: Preprocess) -> None:
        self.looks = tuple(looks)
        self.count = count
        self.seed = seed
        self.split = split
        self.preprocess = preprocess
        self.epoch = 0  # set by the trainer at the start of every epoch
        self.augment: LineAugment | None = None
        self._images: list[np.ndarray] | None = None
        self._texts: list[str] | None = None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        if self._images is not None and self._texts is not None:
            image, text = self._images[index], self._texts[index]
        else:
            image, text = self.render(index)
        if self.augment is not None:
            image = self.augment(image, index)
        return image, text

    def render(self, index: int) -> tuple[np.ndarray, str]:
        """Sample ``index`` of the current epoch, resized for the model."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        rng = random.Random(sample_seed(self.seed, self.split, index, epoch=self.epoch))
        look = choose_look(rng, self.looks)
        _, text, font = pick_text_and_font(rng, look.fonts, look.source, index)
        image = render_line(text, font, rng, self.preprocess.height, look.effects, look.style)
        return self.preprocess.resize(image), text

    @property
    def preloaded(self) -> bool:
        return self._images is not None

    def preload(self, workers: int = 0, progress: bool = True) -> None:
        """Render every sample of the current epoch once and keep it (the fixed validation lines)."""
        del workers  # rendering a validation set takes seconds; one process is enough
        rendered = [self.render(i) for i in tqdm(range(self.count), desc="rendering lines", unit="line",
                                                 disable=not progress)]
        self._images = [image for image, _ in rendered]
        self._texts = [text for _, text in rendered]

    def widths(self) -> list[int]:
        if self._images is None:
            raise ThaiOCRError("widths() needs preload() first")
        return [image.shape[1] for image in self._images]


class MixedDataset:
    """Synthetic samples first, then real ones; ``epoch`` and ``augment`` reach both parts."""

    def __init__(self, synthetic: SynthDataset, real: RecDataset) -> None:
        self.synthetic = synthetic
        self.real = real
        self.preloaded = False  # the synthetic part changes every epoch: batches are drawn at random

    def __len__(self) -> int:
        return len(self.synthetic) + len(self.real)

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        if index < len(self.synthetic):
            return self.synthetic[index]
        return self.real[index - len(self.synthetic)]

    @property
    def epoch(self) -> int:
        return self.synthetic.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.synthetic.epoch = value

    @property
    def augment(self) -> LineAugment | None:
        return self.real.augment

    @augment.setter
    def augment(self, value: LineAugment | None) -> None:
        self.synthetic.augment = value
        self.real.augment = value


def build_synth_split(dataset: DatasetConfig, split: str, charset: Charset, max_text_length: int,
                      preprocess: Preprocess, default_seed: int) -> SynthDataset | MixedDataset:
    """The dataset a ``SynthDataSet`` section describes; ``split`` is ``Train`` or ``Eval``."""
    settings = dataset.synth or SynthConfig()
    fonts = discover_fonts([settings.fonts_dir] if settings.fonts_dir else [])
    split_fonts, _ = fonts_by_split(fonts, settings.val_fonts)
    name = SPLIT_NAMES[split]
    seed = default_seed if settings.seed is None else settings.seed
    looks = build_looks(settings.looks, split_fonts[name], settings.source, settings.effects, charset,
                        max_text_length, where=f"{split}.dataset.synth")
    synthetic = SynthDataset(looks, settings.samples_per_epoch, seed, name, preprocess)
    if not dataset.label_file_list:
        return synthetic
    real = load_split(dataset, charset, max_text_length, preprocess, split)
    real.preload(progress=False)
    return MixedDataset(synthetic, real)
