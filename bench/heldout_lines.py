"""Held-out sets that thaiocr.synth.lines.generate_dataset cannot write: bench-only texts, lines shrunk to
a scan's or a phone photo's resolution, grayscale, narrow print, lines kept at their native size.

A `LineRecipe` says how a text and a font become an image. Every line is still rendered by
thaiocr.synth.render.render_line in a font from thaiocr.synth.fonts, with text and font picked as synthesis
picks them (thaiocr.synth.lines.pick_text_and_font on the sample's seed: a recipe over the `names` source
draws the same names in the same fonts as the synthesised sets), and the folder has the layout
synthesis writes: thai_data/val/NNNNNN.png, rec_gt_val.txt (path<TAB>label), rec_meta_val.tsv
(path, font, kind) and a manifest.json that thaiocr.synth.lines.dataset_is_current reads.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from thaiocr.fileio import atomic_write_text
from thaiocr.synth.effects import RGB, apply_effects
from thaiocr.synth.effectsettings import EffectSettings
from thaiocr.synth.fonts import FontInfo
from thaiocr.synth.lines import IMAGE_FORMATS, IMAGE_ROOT, FontPicker, pick_text_and_font, sample_seed, scale_to_height
from thaiocr.synth.render import render_line
from thaiocr.synth.settings import PrintStyle

# Bump when a recipe's images for the same settings change: the bench rebuilds its sets.
# 2: the print style (documents are dark ink on light paper).
VERSION = 2
SPLIT = "val"
# The sets' own print styles, written out so that the sets stay what earlier figures were measured on
# when training's styles change (thaiocr.synth.settings.PRINT_STYLES: its `document` style came to
# set some spaces wide, which these sets never had).
PRINT_STYLES = {
    "free": PrintStyle(ink=(0, 80), paper=(175, 255), tint=25, inverted_probability=0.15),
    "document": PrintStyle(ink=(0, 60), paper=(200, 255), tint=6, inverted_probability=0.0),
}


class Texts(Protocol):
    """What thaiocr.synth.lines.pick_text_and_font asks of a text source (TextSource and heldout_text's lines)."""

    spec: Any

    def draw(self, rng: random.Random, index: int = 0) -> tuple[str, str]: ...


@dataclass(frozen=True)
class LineRecipe:
    """The steps from a text to an image, in order; a step left at None is skipped.

    The line is rendered ``render_height`` to twice that high in the ``print`` style
    (this module's PRINT_STYLES) with the set's effects; shrunk (or
    enlarged) so that its ink is ``ink_height`` px high (drawn from the range); made grey when
    ``grayscale``; passed through the ``after`` effect chain at that size; its width multiplied by
    ``narrow``; and scaled to ``written_height`` px high (None: kept at its own size). ``texts``
    names the text source (bench/heldout.py's TEXTS).
    """

    texts: str
    print: str = "free"
    render_height: int = 48
    ink_height: tuple[int, int] | None = None
    grayscale: bool = False
    after: EffectSettings | None = None
    narrow: tuple[float, float] | None = None
    written_height: int | None = 48

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "after": self.after.to_dict() if self.after else None,
                "print_style": asdict(PRINT_STYLES[self.print])}


def make_line(
    text: str, font: FontInfo, rng: random.Random, effects: EffectSettings, recipe: LineRecipe
) -> Image.Image:
    """One line image, as ``recipe`` says (see :class:`LineRecipe`)."""
    image = render_line(text, font, rng, recipe.render_height, effects, PRINT_STYLES[recipe.print])
    if recipe.ink_height:
        image = scale_ink(image, rng.uniform(*recipe.ink_height))
    if recipe.grayscale:
        image = image.convert("L").convert("RGB")
    if recipe.after:
        image = apply_effects(image, paper_colour(image), rng, recipe.after)
    if recipe.narrow:
        image = image.resize((max(1, round(image.width * rng.uniform(*recipe.narrow))), image.height),
                             Image.Resampling.LANCZOS)  # fmt: skip
    if recipe.written_height:
        image = scale_to_height(image, recipe.written_height)
    return image.convert("L") if recipe.grayscale else image


def ink_extent(image: Image.Image) -> int:
    """Rows from the top of the highest ink to the bottom of the lowest: pixels at least halfway from
    the paper (the median grey) to the farthest grey, on either side (light ink on dark paper too)."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    paper = int(np.median(grey))
    reach = max(paper - int(grey.min()), int(grey.max()) - paper)
    rows = np.flatnonzero((2 * np.abs(grey - paper) >= max(reach, 1)).any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else image.height


def scale_ink(image: Image.Image, ink_height: float) -> Image.Image:
    """``image`` resized so that its ink is ``ink_height`` px high: area-averaged when shrunk, as a sensor samples."""
    scale = ink_height / ink_extent(image)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC)


def paper_colour(image: Image.Image) -> RGB:
    red, green, blue = (int(np.median(channel)) for channel in np.asarray(image.convert("RGB")).transpose(2, 0, 1))
    return red, green, blue


def draw_lines(
    count: int, seed: int, texts: Texts, fonts: Sequence[FontInfo], effects: EffectSettings, recipe: LineRecipe
) -> Iterator[tuple[str, str, FontInfo, Image.Image]]:
    """``(kind, label, font, image)`` of each line; the label reads each run of spaces as one."""
    picker = FontPicker(fonts)
    for index in range(count):
        rng = random.Random(sample_seed(seed, SPLIT, index))
        kind, text, font = pick_text_and_font(rng, picker, texts, index)  # type: ignore[arg-type]  # a Texts
        yield kind, " ".join(text.split()), font, make_line(text, font, rng, effects, recipe)


def write_set(folder: Path, lines: Iterator[tuple[str, str, FontInfo, Image.Image]], manifest: dict) -> None:
    """Write ``lines`` (from :func:`draw_lines`) and ``manifest`` into ``folder`` in synthesis's layout."""
    images = folder / IMAGE_ROOT / SPLIT
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir(parents=True)
    rows = []
    for number, (kind, label, font, image) in enumerate(lines, start=1):
        path = f"{IMAGE_ROOT}/{SPLIT}/{number:06d}.png"
        (folder / path).write_bytes(IMAGE_FORMATS["png"](image))
        rows.append((path, label, font.name, kind))
    atomic_write_text(folder / f"rec_gt_{SPLIT}.txt", "".join(f"{path}\t{label}\n" for path, label, _, _ in rows))
    meta = "path\tfont\tkind\n" + "".join(f"{path}\t{font}\t{kind}\n" for path, _, font, kind in rows)
    atomic_write_text(folder / f"rec_meta_{SPLIT}.tsv", meta)
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
