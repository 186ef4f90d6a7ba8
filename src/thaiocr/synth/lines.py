"""Synthetic datasets: text samplers + fonts + rendering -> images and PaddleOCR label files.

A dataset folder written by :func:`generate_dataset` looks like the guide's PaddleOCR layout::

    out_dir/
      rec_gt_train.txt          thai_data/train/000001.png<TAB>label   (paths relative to out_dir)
      rec_gt_val.txt
      rec_meta_train.tsv        path, font and sample kind of every image (for per-font metrics)
      rec_meta_val.tsv
      manifest.json             synth_version, seed, counts, fonts of each split, sample kinds, height, effects
      thai_data/train/*.png
      thai_data/val/*.png

Every sample is a pure function of ``(seed, split, index)``, so the output is byte-identical
whatever the number of worker processes. Validation uses whole font families (every face of each)
that training never sees.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import json
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from thaiocr.charset import Charset
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write, atomic_write_text
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings
from thaiocr.synth.fonts import FontInfo, discover_fonts, family_of, font_covers, fonts_fingerprint
from thaiocr.synth.pngfile import encode_png
from thaiocr.synth.render import render_line
from thaiocr.synth.textsource import DEFAULT_MAX_LENGTH, SourceSpec, TextSource

# Bump whenever the generator's output for the same arguments changes: the demo regenerates a
# dataset whose manifest has another version. 2: validation holds out whole families, not faces.
# 3: letter-spaced lines; digit groups split by spaces in plain runs and national IDs.
# 4: texts from thaiocr.synth.textsource (the meta files' kind column names the source part).
# 5: backgrounds, decorations and the effects module; lines written `height` px high.
# 6: faster generation (text rasterised once at sub-pixel positions, own PNG encoder): other bytes.
# 7: letter spacing at most half a word space (render.TRACKING_RANGE).
SYNTH_VERSION = 7
IMAGE_ROOT = "thai_data"
SPLITS = ("train", "val")
# Default held-out families, one per kind of letter shape: looped (Laksaman, the free clone of
# TH Sarabun, the Thai government's official document face), monospace, and rounded,
# handwriting-like. Every face of a held-out family (bold, italic, ...) is held out with it; a
# larger count adds further families in sorted order.
PREFERRED_VAL_FAMILIES = ("Laksaman", "TlwgTypewriter", "Sawasdee")
# Noto Sans Thai is the only loopless family with Thai digits: a count never takes it from training.
TRAIN_ONLY_FAMILIES = ("NotoSansThai",)
CHUNK_SIZE = 50  # samples per task sent to a worker process
# How each image format is written: PNG by thaiocr.synth.pngfile (one row filter, zlib level 1: twice as fast
# as Pillow's encoder), JPEG at quality 95 without chroma subsampling, so thin coloured strokes keep their edges.
IMAGE_FORMATS: dict[str, Callable[[Image.Image], bytes]] = {
    "png": lambda image: encode_png(np.asarray(image)),
    "jpg": lambda image: _pillow_bytes(image, format="JPEG", quality=95, subsampling=0),
}
MAX_TEXT_TRIES = 100
# glibc's mallopt parameters and the values the generating processes use (see _keep_freed_memory).
MALLOPT_TRIM_THRESHOLD, MALLOPT_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 8 << 20  # blocks below this come from the heap, not fresh mappings
TRIM_THRESHOLD = 64 << 20  # free memory the heap keeps before returning any


class _Sample(NamedTuple):
    path: str  # relative to the dataset root
    label: str
    font: str
    kind: str


@dataclass(frozen=True)
class _SplitJob:
    out_dir: Path
    split: str
    seed: int
    fonts: FontPicker
    source: TextSource
    height: int
    effects: EffectSettings
    image_format: str = "png"


# (split, chunks of sample indices) -> the chunks' samples, in order
_ChunkRunner = Callable[[str, list[range]], Iterable[list[_Sample]]]


def generate_dataset(
    out_dir: Path,
    n_train: int,
    n_val: int,
    seed: int = 0,
    val_fonts: int | Sequence[str] = 3,
    workers: int | None = None,
    fonts: Sequence[FontInfo] | None = None,
    progress: bool = True,
    source: SourceSpec = "numbers",
    charset: Charset | None = None,
    max_length: int = DEFAULT_MAX_LENGTH,
    height: int = 32,
    effects: EffectSettings = DEFAULT_EFFECTS,
    image_format: str = "png",
) -> dict:
    """Write a synthetic dataset (layout in the module docstring); return its manifest.

    Texts come from ``source`` (a text source name or mix, see :mod:`thaiocr.synth.textsource`), kept
    to ``charset`` and ``max_length``; lines are rendered ``height`` to ``2 * height`` px high,
    degraded as ``effects`` says, and written ``height`` px high, as a model of that height sees them,
    as ``png`` (lossless) or ``jpg`` (quality 95: about 7x faster to write than PNG for noisy lines).
    Validation images use only the font families picked by ``val_fonts`` (a count, or family or
    face names; see :func:`choose_val_families`): training never sees any face of those families.
    Re-running into the same folder overwrites it.
    """
    if n_train < 0 or n_val < 0:
        raise ThaiOCRError(f"sample counts must be >= 0, got n_train={n_train}, n_val={n_val}")
    if image_format not in IMAGE_FORMATS:
        raise ThaiOCRError(f"image format {image_format!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    out_dir = Path(out_dir)
    split_fonts, val_families = fonts_by_split(fonts if fonts is not None else discover_fonts(), val_fonts)
    counts = {"train": n_train, "val": n_val}
    for split in SPLITS:
        if counts[split] and not split_fonts[split]:
            raise ThaiOCRError(f"no fonts left for the {split} split; hold out fewer fonts")
    text_source = TextSource(source, charset, max_length)
    jobs = {split: _SplitJob(out_dir, split, seed, FontPicker(split_fonts[split]), text_source, height, effects,
                           image_format)
            for split in SPLITS}
    workers = min(max(1, workers or os.cpu_count() or 1), math.ceil(sum(counts.values()) / CHUNK_SIZE))
    usage = {}
    with _chunk_runner(jobs, workers) as run_chunks:
        for split in SPLITS:
            samples = _generate_split(jobs[split], counts[split], run_chunks, progress)
            _write_split_files(out_dir, split, samples)
            usage[split] = dict(sorted(Counter(s.font for s in samples).items()))
    manifest = {**_manifest(seed, counts, split_fonts, val_families, usage, text_source), "height": height,
                "effects": effects.to_dict(), "image_format": image_format}
    atomic_write_text(out_dir / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def fonts_by_split(
    fonts: Sequence[FontInfo], val_fonts: int | Sequence[str]
) -> tuple[dict[str, list[FontInfo]], list[str]]:
    """``({"train": [...], "val": [...]}, held-out family names)``: no family is in both splits."""
    all_fonts = sorted(fonts, key=lambda font: font.name)
    val_families = choose_val_families(all_fonts, val_fonts)
    held_out = _faces_of(all_fonts, val_families)
    return {"train": [f for f in all_fonts if f not in held_out], "val": held_out}, val_families


def choose_val_fonts(fonts: Sequence[FontInfo], val_fonts: int | Sequence[str]) -> list[FontInfo]:
    """Every face of the held-out families chosen by :func:`choose_val_families`, family by family."""
    return _faces_of(fonts, choose_val_families(fonts, val_fonts))


def choose_val_families(fonts: Sequence[FontInfo], val_fonts: int | Sequence[str]) -> list[str]:
    """The held-out families: a count, or names of families or faces (a face names its family).

    A count takes :data:`PREFERRED_VAL_FAMILIES` first, then further families in sorted order,
    never one of :data:`TRAIN_ONLY_FAMILIES`. Training always keeps at least one family.
    """
    families = _families_of(fonts)
    chosen = _held_out_families(fonts, families, val_fonts)
    if len(chosen) >= len(families):
        raise ThaiOCRError(f"cannot hold out all {len(families)} font families; training needs at least one")
    return chosen


def _held_out_families(fonts: Sequence[FontInfo], families: Sequence[str], val_fonts: int | Sequence[str]) -> list[str]:
    if isinstance(val_fonts, int):
        return _counted_families(families, val_fonts)
    return _named_families(fonts, [val_fonts] if isinstance(val_fonts, str) else val_fonts)


def _families_of(fonts: Iterable[FontInfo]) -> list[str]:
    return sorted({font.family for font in fonts})


def _faces_of(fonts: Iterable[FontInfo], families: Sequence[str]) -> list[FontInfo]:
    """The faces of ``families``, in the families' order, then by name."""
    ordered = sorted(fonts, key=lambda font: font.name)
    return [font for family in families for font in ordered if font.family == family]


def _counted_families(families: Sequence[str], count: int) -> list[str]:
    candidates = [family for family in families if family not in TRAIN_ONLY_FAMILIES]
    if not 0 <= count < len(families) or count > len(candidates):
        raise ThaiOCRError(
            f"cannot hold out {count} of {len(families)} font families; training needs at least one"
            f" and keeps {', '.join(TRAIN_ONLY_FAMILIES)}"
        )
    preferred = [family for family in PREFERRED_VAL_FAMILIES if family in candidates]
    rest = [family for family in candidates if family not in preferred]
    return (preferred + rest)[:count]


def _named_families(fonts: Sequence[FontInfo], names: Sequence[str]) -> list[str]:
    family_by_name = {font.name: font.family for font in fonts} | {font.family: font.family for font in fonts}
    unknown = [name for name in names if name not in family_by_name]
    if unknown:
        raise ThaiOCRError(
            f"unknown validation fonts {unknown}; available families: {_families_of(fonts)},"
            f" faces: {sorted(font.name for font in fonts)}"
        )
    return list(dict.fromkeys(family_by_name[name] for name in names))


def _generate_split(job: _SplitJob, count: int, run_chunks: _ChunkRunner, progress: bool) -> list[_Sample]:
    folder = job.out_dir / IMAGE_ROOT / job.split
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_images(folder, count, job.image_format)
    chunks = [range(start, min(start + CHUNK_SIZE, count)) for start in range(0, count, CHUNK_SIZE)]
    samples: list[_Sample] = []
    with tqdm(total=count, desc=f"synth {job.split}", unit="line", disable=not progress) as bar:
        for chunk_samples in run_chunks(job.split, chunks):
            samples.extend(chunk_samples)
            bar.update(len(chunk_samples))
    return samples


def _remove_stale_images(folder: Path, count: int, image_format: str) -> None:
    """Delete numbered images a previous run left behind (more of them, or another format)."""
    for path in folder.iterdir():
        numbered = path.suffix[1:] in IMAGE_FORMATS and path.stem.isdigit()
        if numbered and (int(path.stem) > count or path.suffix[1:] != image_format):
            path.unlink()


@contextmanager
def _chunk_runner(jobs: dict[str, _SplitJob], workers: int) -> Iterator[_ChunkRunner]:
    """Maps a split's chunks of sample indices to samples, in order: in-process or over one pool.

    The pool serves both splits and starts before any progress bar, so no tqdm thread exists
    when it forks.
    """
    if workers <= 1:
        _keep_freed_memory()
        yield lambda split, chunks: (_make_samples(jobs[split], chunk) for chunk in chunks)
        return
    with Pool(workers, initializer=_init_worker, initargs=(jobs,)) as pool:
        yield lambda split, chunks: pool.imap(_make_samples_in_worker, [(split, chunk) for chunk in chunks])


_worker_jobs: dict[str, _SplitJob] = {}


def _init_worker(jobs: dict[str, _SplitJob]) -> None:
    """Give each worker process the jobs once, instead of pickling the fonts with every chunk."""
    _keep_freed_memory()
    _worker_jobs.update(jobs)


def _keep_freed_memory() -> None:
    """Have glibc keep freed memory for the next line instead of handing it back to the kernel.

    A line allocates and frees dozens of 0.1-1 MB arrays and images; by default glibc maps such
    blocks afresh (or trims the heap) each time, and faulting their pages in again took ~10% of
    the time per line. The setting lasts for the process; where there is no glibc it does nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):
        return
    mallopt(MALLOPT_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(MALLOPT_TRIM_THRESHOLD, TRIM_THRESHOLD)


def _make_samples_in_worker(task: tuple[str, range]) -> list[_Sample]:
    split, indices = task
    return _make_samples(_worker_jobs[split], indices)


def _make_samples(job: _SplitJob, indices: range) -> list[_Sample]:
    return [_make_sample(job, index) for index in indices]


def _make_sample(job: _SplitJob, index: int) -> _Sample:
    rng = random.Random(sample_seed(job.seed, job.split, index))
    kind, text, font = pick_text_and_font(rng, job.fonts, job.source, index)
    path = f"{IMAGE_ROOT}/{job.split}/{index + 1:06d}.{job.image_format}"
    image = scale_to_height(render_line(text, font, rng, job.height, job.effects), job.height)
    (job.out_dir / path).write_bytes(IMAGE_FORMATS[job.image_format](image))
    return _Sample(path, text, font.name, kind)


def _pillow_bytes(image: Image.Image, **settings) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **settings)
    return buffer.getvalue()


def scale_to_height(image: Image.Image, height: int) -> Image.Image:
    """``image`` resized to ``height`` px high, keeping its aspect ratio (as the model's preprocessing)."""
    if image.height == height:
        return image
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.BILINEAR)


def sample_seed(seed: int, split: str, index: int, epoch: int | None = None) -> int:
    """A seed that depends only on (seed, split, [epoch,] index): the same in every process and run."""
    key = f"{seed}/{split}/{index}" if epoch is None else f"{seed}/{split}/{epoch}/{index}"
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big")


def pick_text_and_font(
    rng: random.Random, fonts: FontPicker, source: TextSource, index: int = 0
) -> tuple[str, str, FontInfo]:
    """``(source part, text, font)``: a text from ``source`` and a font that covers all of it.

    Texts no font covers are drawn again (Noto Sans/Serif Thai lack Latin digits and letters).
    """
    for _ in range(MAX_TEXT_TRIES):
        part, text = source.draw(rng, index)
        font = fonts.pick(rng, text)
        if font is not None:
            return part, text, font
    raise ThaiOCRError(
        f"in {MAX_TEXT_TRIES} tries none of the fonts {[f.name for f in fonts.fonts]} covered a text from "
        f"{source.spec!r}; add fonts or choose other text sources"
    )


class FontPicker:
    """Chooses a font for a text: a family uniformly among those covering it, then one of its faces.

    Families with six faces do not crowd out the rest. Coverage is a bit mask of fonts per
    character, worked out once per character (per process): a text's fonts are the AND of its
    characters' masks, so no line tests every font's cmap.
    """

    def __init__(self, fonts: Sequence[FontInfo]) -> None:
        self.fonts = tuple(fonts)
        self._all = (1 << len(self.fonts)) - 1
        self._by_char: dict[str, int] = {" ": self._all}
        self._families: dict[int, tuple[list[str], dict[str, list[FontInfo]]]] = {}

    def __getstate__(self) -> tuple[FontInfo, ...]:
        return self.fonts

    def __setstate__(self, fonts: tuple[FontInfo, ...]) -> None:
        self.__init__(fonts)

    def __bool__(self) -> bool:
        return bool(self.fonts)

    def pick(self, rng: random.Random, text: str) -> FontInfo | None:
        families, faces = self._families_of(self._mask(text))
        if not families:
            return None
        return rng.choice(faces[rng.choice(families)])

    def _mask(self, text: str) -> int:
        mask = self._all
        for ch in set(text):
            if ch not in self._by_char:
                self._by_char[ch] = sum(1 << i for i, font in enumerate(self.fonts) if font_covers(font, ch))
            mask &= self._by_char[ch]
        return mask

    def _families_of(self, mask: int) -> tuple[list[str], dict[str, list[FontInfo]]]:
        if mask not in self._families:
            faces: dict[str, list[FontInfo]] = {}
            for i, font in enumerate(self.fonts):
                if mask >> i & 1:
                    faces.setdefault(font.family, []).append(font)
            self._families[mask] = (sorted(faces), faces)
        return self._families[mask]


def _write_split_files(out_dir: Path, split: str, samples: Sequence[_Sample]) -> None:
    labels = "".join(f"{s.path}\t{s.label}\n" for s in samples)
    meta = "path\tfont\tkind\n" + "".join(f"{s.path}\t{s.font}\t{s.kind}\n" for s in samples)
    atomic_write_text(out_dir / f"rec_gt_{split}.txt", labels)
    atomic_write_text(out_dir / f"rec_meta_{split}.tsv", meta)


def font_families_beside(labels: Path) -> dict[Path, str]:
    """Image path -> font family, from any ``rec_meta_*.tsv`` (written by synthesis) beside ``labels``."""
    families: dict[Path, str] = {}
    for meta in sorted(Path(labels).parent.glob("rec_meta_*.tsv")):
        header, *rows = meta.read_text(encoding="utf-8").splitlines() or [""]
        columns = header.split("\t")
        if "path" not in columns or "font" not in columns:
            continue
        path_at, font_at = columns.index("path"), columns.index("font")
        for row in rows:
            cells = row.split("\t")
            if len(cells) == len(columns):
                families[meta.parent / cells[path_at]] = family_of(cells[font_at])
    return families


def dataset_is_current(out_dir: Path, fonts: Sequence[FontInfo], **settings: object) -> bool:
    """True when ``out_dir`` holds a dataset that this generator version wrote with ``fonts`` (names
    and character maps) and with ``settings``, given as manifest keys and values (``n_val=500``).
    The settings pass through JSON as the manifest did, so tuples compare equal to its lists."""
    manifest = Path(out_dir) / "manifest.json"
    if not manifest.exists():
        return False
    saved = json.loads(manifest.read_text(encoding="utf-8"))
    wanted = {"synth_version": SYNTH_VERSION, "fonts_fingerprint": fonts_fingerprint(fonts),
              **json.loads(json.dumps(settings))}
    return all(saved.get(key) == value for key, value in wanted.items())


def _manifest(
    seed: int,
    counts: dict[str, int],
    split_fonts: dict[str, list[FontInfo]],
    val_families: list[str],
    usage: dict[str, dict],
    source: TextSource,
) -> dict:
    return {
        "synth_version": SYNTH_VERSION,
        "seed": seed,
        "n_train": counts["train"],
        "n_val": counts["val"],
        "train_fonts": [font.name for font in split_fonts["train"]],
        "val_fonts": [font.name for font in split_fonts["val"]],
        "fonts_fingerprint": fonts_fingerprint(split_fonts["train"] + split_fonts["val"]),
        "val_families": val_families,
        "source": source.spec,
        "charset": "".join(source.charset.chars) if source.charset else None,
        "max_length": source.max_length,
        "label_files": {split: f"rec_gt_{split}.txt" for split in SPLITS},
        "meta_files": {split: f"rec_meta_{split}.tsv" for split in SPLITS},
        "font_usage": usage,
    }



# --- preview ------------------------------------------------------------------------------------

PREVIEW_ROW_HEIGHT = 48
PREVIEW_IMAGE_WIDTH = 480  # lines wider than this are scaled down to fit
PREVIEW_CAPTION_WIDTH = 420
CAPTION_FAMILIES = ("Loma", "Garuda", "ArundinaSans", "Waree")  # clear faces for the labels under review


def render_samples(count: int, seed: int = 0, split: str = "train", val_fonts: int | Sequence[str] = 3,
                   fonts: Sequence[FontInfo] | None = None, source: SourceSpec = "numbers",
                   charset: Charset | None = None, max_length: int = DEFAULT_MAX_LENGTH,
                   height: int = 32, effects: EffectSettings = DEFAULT_EFFECTS,
                   ) -> list[tuple[Image.Image, str, FontInfo]]:
    """The first ``count`` samples of a split exactly as :func:`generate_dataset` would write them."""
    split_fonts, _ = fonts_by_split(fonts if fonts is not None else discover_fonts(), val_fonts)
    text_source = TextSource(source, charset, max_length)
    picker = FontPicker(split_fonts[split])
    samples = []
    for index in range(count):
        rng = random.Random(sample_seed(seed, split, index))
        _, text, font = pick_text_and_font(rng, picker, text_source, index)
        samples.append((scale_to_height(render_line(text, font, rng, height, effects), height), text, font))
    return samples


def contact_sheet(samples: Sequence[tuple[Image.Image, str, FontInfo]], fonts: Sequence[FontInfo]) -> Image.Image:
    """One row per sample: the line image, then its label and font name, for a person to check."""
    width = PREVIEW_IMAGE_WIDTH + PREVIEW_CAPTION_WIDTH
    sheet = Image.new("RGB", (width, PREVIEW_ROW_HEIGHT * len(samples)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (image, text, font) in enumerate(samples):
        top = row * PREVIEW_ROW_HEIGHT
        sheet.paste(_fit(image, PREVIEW_IMAGE_WIDTH, PREVIEW_ROW_HEIGHT - 4), (0, top + 2))
        caption = _caption_face(fonts, text, size=18)
        draw.text((PREVIEW_IMAGE_WIDTH + 10, top + 2), text, font=caption, fill="black")
        draw.text((PREVIEW_IMAGE_WIDTH + 10, top + 28), font.name, font=_caption_face(fonts, font.name, 12),
                  fill=(110, 110, 110))
        draw.line([(0, top + PREVIEW_ROW_HEIGHT - 1), (width, top + PREVIEW_ROW_HEIGHT - 1)], fill=(220, 220, 220))
    return sheet


def write_preview(path: Path, count: int, **settings) -> Path:
    """Render ``count`` training samples (``settings`` as for :func:`render_samples`) into a PNG sheet."""
    fonts = settings.pop("fonts", None) or discover_fonts()
    sheet = contact_sheet(render_samples(count, fonts=fonts, **settings), fonts)
    atomic_write(Path(path), lambda stream: sheet.save(stream, format="PNG"))
    return Path(path)


def _fit(image: Image.Image, max_width: int, height: int) -> Image.Image:
    width = max(1, round(image.width * height / image.height))
    if width > max_width:
        width, height = max_width, max(1, round(image.height * max_width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _caption_face(fonts: Sequence[FontInfo], text: str, size: int) -> ImageFont.FreeTypeFont:
    covering = [f for f in fonts if font_covers(f, text)] or list(fonts)
    preferred = [f for family in CAPTION_FAMILIES for f in covering if f.name == family]
    return ImageFont.truetype(str((preferred or covering)[0].path), size, layout_engine=ImageFont.Layout.RAQM)
