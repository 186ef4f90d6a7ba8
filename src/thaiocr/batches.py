"""Datasets and batches for training and evaluation (torch): images decoded once, batches by width.

``data.py`` validates label files and chooses the samples without torch; here they become
``(BGR uint8 image, text)`` datasets, and text becomes class ids only in :func:`collate`
(ARCHITECTURE rule 2).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler
from tqdm import tqdm

from thaiocr.augment import LineAugment
from thaiocr.charset import Charset
from thaiocr.config import DatasetConfig
from thaiocr.data import CheckImages, DataError, Sample, select_samples
from thaiocr.distributed import DistContext, RankSlices
from thaiocr.imageload import PILLOW_LIMIT, decode
from thaiocr.kernel.recipe import LoaderConfig
from thaiocr.preprocess import ImageError, Preprocess

logger = logging.getLogger(__name__)
PRELOAD_CHUNK = 64  # samples per task sent to a preload worker


def load_split(
    dataset: DatasetConfig,
    charset: Charset,
    max_text_length: int,
    preprocess: Preprocess,
    split: str = "Train",
    check_images: CheckImages = "open",
) -> RecDataset:
    """A split's dataset of its good samples (the ``on_bad_data`` policy applied by ``select_samples``)."""
    return RecDataset(select_samples(dataset, charset, max_text_length, split, check_images), preprocess)


class RecDataset(Dataset):
    """Samples yielding ``(BGR uint8 [H, w, 3] image, text)``; ``preload`` caches the images.

    Decoding and resizing dominate the cost of a step on CPU; recognition sets are small
    (tens of thousands of short lines, about ``H * w * 3`` bytes each once resized), so
    ``preload`` decodes everything once and later epochs only look images up.
    """

    def __init__(self, samples: Sequence[Sample], preprocess: Preprocess) -> None:
        self.samples = list(samples)
        self.preprocess = preprocess
        self._images: list[np.ndarray] | None = None
        self.augment: LineAugment | None = None  # set by the trainer for a recipe with RecAug

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        image = self._images[index] if self._images is not None else self.load_image(index)
        if self.augment is not None:
            image = self.augment(image, index)
        return image, self.samples[index].text

    @property
    def preloaded(self) -> bool:
        return self._images is not None

    def load_image(self, index: int) -> np.ndarray:
        """Decode and resize one sample's image; a failure names its label file and line."""
        return _load_resized(self.samples[index], self.preprocess)

    def preload(self, workers: int = 0, progress: bool = True) -> None:
        """Decode and resize every image into memory, in ``workers`` processes (0: this process).

        Measured on 2 shared cores with 2,000 32x100 PNGs: about 3,000 images/s serially, about
        1.3x that with 2 forked processes; 2 threads were slower than serial (the GIL), and
        spawned processes spend seconds importing torch. Forked processes are used where the
        platform has them.
        """
        load = functools.partial(_load_resized, preprocess=self.preprocess)
        workers = min(workers, os.cpu_count() or 1)
        with tqdm(total=len(self), desc="loading images", unit="img", disable=not progress) as bar:
            if workers <= 0:
                self._images = [_advance(bar, load(s)) for s in self.samples]
            else:
                self._images = _load_in_processes(self.samples, load, workers, bar)
        logger.info("cached %d images, %.1f MB", len(self), self.cache_bytes() / 1e6)

    def widths(self) -> list[int]:
        """Resized widths of the cached images (needs ``preload``)."""
        if self._images is None:
            raise DataError("widths() needs preload() first")
        return [image.shape[1] for image in self._images]

    def cache_bytes(self) -> int:
        return sum(a.nbytes for a in self._images or [])


def _load_resized(sample: Sample, preprocess: Preprocess) -> np.ndarray:
    try:
        # Decoded at full size, so training resizes (and squeezes a wide line) exactly as it always has.
        return preprocess.resize(decode(sample.image_path, str(sample.image_path), PILLOW_LIMIT, "Pillow's limit"))
    except ImageError as exc:
        raise DataError(f"{sample.source}:{sample.line}: {exc}") from None


def _advance(bar: tqdm, image: np.ndarray) -> np.ndarray:
    bar.update()
    return image


def _load_in_processes(
    samples: list[Sample], load: Callable[[Sample], np.ndarray], workers: int, bar: tqdm
) -> list[np.ndarray]:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(workers, initializer=_die_on_sigterm) as pool:  # leaving the block terminates them
        return [_advance(bar, image) for image in pool.imap(load, samples, chunksize=PRELOAD_CHUNK)]


def _die_on_sigterm() -> None:
    """Pool workers end on the pool's SIGTERM even when their parent handles it (a cloud job's stop
    handler, inherited by fork, made a terminated worker raise instead of exit, and the pool hang)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --- batches ------------------------------------------------------------------------------------


@dataclass
class Batch:
    """A model-ready batch: padded images and the CTC targets of their labels."""

    images: torch.Tensor  # float32 [N, 3, H, W]
    targets: torch.Tensor  # int64, the class ids of all labels concatenated
    target_lengths: torch.Tensor  # int64 [N]
    texts: list[str]


def collate(batch: Sequence[tuple[np.ndarray, str]], preprocess: Preprocess, charset: Charset) -> Batch:
    """``(image, text)`` pairs -> ``Batch``; the one place where text becomes class ids."""
    images = [image for image, _ in batch]
    texts = [text for _, text in batch]
    ids = [charset.encode(text) for text in texts]
    return Batch(
        images=torch.from_numpy(preprocess.batch(images)),
        targets=torch.tensor([i for seq in ids for i in seq], dtype=torch.int64),
        target_lengths=torch.tensor([len(seq) for seq in ids], dtype=torch.int64),
        texts=texts,
    )


def make_loader(
    dataset: RecDataset,
    loader: LoaderConfig,
    charset: Charset,
    preprocess: Preprocess,
    seed: int,
    epoch_seed_offset: int = 0,
    context: DistContext | None = None,
) -> DataLoader | PooledWidthBatches:
    """A DataLoader whose order depends only on ``seed + epoch_seed_offset``.

    Iterating the loader again draws a new order from the same seeded generator, so a run is
    reproducible; build one loader per epoch with ``epoch_seed_offset=epoch`` to make a resumed
    run repeat the order of the epoch it resumes. A preloaded dataset uses no worker processes
    (collating cached arrays is cheap; workers would only add start-up and copying); otherwise
    workers are capped at one fewer than the CPUs. A shuffled dataset is batched by width: a
    preloaded one by ``WidthBucketSampler``, one rendered while training by ``PooledWidthBatches``.
    An unshuffled preloaded dataset (the trainer's evaluation) is read from its narrowest image up.
    In distributed training (``context``) every rank draws the same global batches and keeps its
    own slice (``RankSlices``); a short last global batch is dropped.
    """
    generator = torch.Generator()
    generator.manual_seed(seed + epoch_seed_offset)
    workers = 0 if dataset.preloaded else min(loader.num_workers, max((os.cpu_count() or 1) - 1, 0))
    collate_fn = functools.partial(collate, preprocess=preprocess, charset=charset)
    distributed = context is not None and context.enabled
    if loader.shuffle and not dataset.preloaded and not distributed:
        return PooledWidthBatches(dataset, loader.batch_size_per_card, _drop_last(len(dataset), loader),
                                  workers, collate_fn, generator)
    if distributed:
        batches = _global_batches(dataset, loader, loader.batch_size_per_card * context.world_size, True, generator)
        sampler: Sampler[list[int]] = RankSlices(batches, context)
    else:
        sampler = _global_batches(dataset, loader, loader.batch_size_per_card,
                                  _drop_last(len(dataset), loader), generator)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=collate_fn)


def _global_batches(dataset: RecDataset, loader: LoaderConfig, batch_size: int, drop_last: bool,
                    generator: torch.Generator) -> Sampler[list[int]]:
    if dataset.preloaded:
        if loader.shuffle:
            return WidthBucketSampler(dataset.widths(), batch_size, drop_last, generator)
        return BatchSampler(_by_width(dataset.widths()), batch_size, drop_last)
    order = RandomSampler(dataset, generator=generator) if loader.shuffle else SequentialSampler(dataset)
    return BatchSampler(order, batch_size, drop_last)


def _by_width(widths: Sequence[int]) -> list[int]:
    """Indices from the narrowest image to the widest (ties in index order), as ``Recognizer`` batches them.

    An unshuffled preloaded set is the trainer's evaluation: batches of similar width pad less,
    and its figures match ``thaiocr eval`` on the same lines.
    """
    return sorted(range(len(widths)), key=widths.__getitem__)


class WidthBucketSampler(Sampler[list[int]]):
    """Shuffled batches of images of similar width.

    A batch is padded to its widest image, and a step costs in proportion to that width: random
    batches almost always hold one full-width line, so every step paid for the maximum. Here a
    random permutation is cut into pools of ``POOL_BATCHES`` batches, each pool is sorted by
    width and cut into batches, and the batch order is shuffled again.
    """

    POOL_BATCHES = 50

    def __init__(self, widths: Sequence[int], batch_size: int, drop_last: bool, generator: torch.Generator) -> None:
        self.widths = list(widths)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.generator = generator

    def __len__(self) -> int:
        return _batch_count(len(self.widths), self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.widths), generator=self.generator).tolist()
        pool = self.batch_size * self.POOL_BATCHES
        ordered = [i for start in range(0, len(order), pool)
                   for i in sorted(order[start : start + pool], key=self.widths.__getitem__)]
        batches = _cut(ordered, self.batch_size, self.drop_last)
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]


class PooledWidthBatches:
    """Shuffled batches of similar width from a dataset whose widths are known only once loaded.

    Lines rendered while training have no widths in advance, and random batches of them pay for
    the widest line almost every step (32 general-recipe lines: 219 px wide on average, padded to
    469 px). So the loader fetches pools of ``POOL_BATCHES`` batches in a random order; each pool
    is sorted by width, cut into batches, and those are yielded in a shuffled order. The order
    depends only on the generator's seed, so a resumed epoch repeats it.
    """

    POOL_BATCHES = 8  # 256 lines of 32: padding falls to about half of random batches' (measured)

    def __init__(self, dataset: Dataset, batch_size: int, drop_last: bool, workers: int,
                 collate_fn: Callable[[list], Batch], generator: torch.Generator) -> None:
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.count = len(dataset)
        self.batch_order = torch.Generator()
        self.batch_order.manual_seed(generator.initial_seed())
        pools = BatchSampler(RandomSampler(dataset, generator=generator), batch_size * self.POOL_BATCHES, False)
        self.pools = DataLoader(dataset, batch_sampler=pools, num_workers=workers, collate_fn=list)

    @property
    def num_workers(self) -> int:
        return self.pools.num_workers

    def __len__(self) -> int:
        return _batch_count(self.count, self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[Batch]:
        for pool in self.pools:
            pool.sort(key=lambda sample: sample[0].shape[1])
            batches = _cut(pool, self.batch_size, self.drop_last)
            for index in torch.randperm(len(batches), generator=self.batch_order).tolist():
                yield self.collate_fn(batches[index])


def _batch_count(n_samples: int, batch_size: int, drop_last: bool) -> int:
    return n_samples // batch_size if drop_last else -(-n_samples // batch_size)


def _cut(items: list, batch_size: int, drop_last: bool) -> list[list]:
    """``items`` in batches of ``batch_size``, in order; with ``drop_last`` a short last one is left out."""
    batches = [items[start : start + batch_size] for start in range(0, len(items), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def _drop_last(n_samples: int, loader: LoaderConfig) -> bool:
    """``drop_last``, unless it would drop every sample of a dataset smaller than one batch."""
    if loader.drop_last and n_samples < loader.batch_size_per_card:
        logger.warning(
            "%d samples are fewer than one batch of %d: keeping the partial batch despite drop_last",
            n_samples,
            loader.batch_size_per_card,
        )
        return False
    return loader.drop_last
