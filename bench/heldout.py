"""thaiocr against Tesseract on held-out Thai lines: per set, lines, line accuracy, CER and lines/s.

    python bench/heldout.py --model models/thai_general/best_model [--lines 500] [--sets clean,scan]
        [--no-tesseract] [--by-family] [--decoder auto|beam|greedy] [--greedy-too] [--once-too]

The sets are built once into data/heldout/<set>/ (guide layout; again when their settings change)
and never trained on. Unless said otherwise, a set's fonts are the three families every recipe
holds out (Laksaman, TlwgTypewriter, Sawasdee) and its text is Thai person names with titles (the
`names` source, which the general recipe's training mix of words, phrases, abbreviations, Wikipedia
titles, numbers and mixed text does not use), written 48 px high:
- `clean`: on a flat background with every effect off; `degraded`: with the default effects (blur,
  noise, JPEG, rotation, paper, ...).
- `seen-fonts`, a control and not held out: the same names, clean, in eleven common families that
  training does use (Debian's and the font wheels', so every set-up has them). The gap between it
  and `clean` is what unseen letter shapes cost; what it misses itself is not down to fonts.
The bench-built sets below are printed as documents are (dark, nearly neutral ink on white or grey
paper, bench/heldout_lines.py's PRINT_STYLES["document"], which sets no space wide):
- `scan`: the `clean` names as a scan or a phone photo gives them: printed on paper, shrunk so the
  ink is only 14-24 px high, grey, then tilted up to 1.5 degrees, unevenly lit, blurred, at low
  contrast, noisy and JPEG-compressed (quality 25-50) at that size, and enlarged back to 48 px.
- `receipt`: lines of till receipts and forms (bench/heldout_text.py: items with quantities and
  prices, rules of - = *, POS and tax codes, totals, VAT, payments, dates and times, dotted form
  fields; Thai and English) in the held-out monospace family TlwgTypewriter only, clean, padded
  into 32-42 columns and squeezed to 70-100% of their width, as narrow thermal print is.
- `long`: whole printed lines of 60-100 code points of pseudo-prose (bench/heldout_text.py: words
  of the Thai National Corpus by frequency, names, places, numbers; none of the files training
  reads), clean, at scan resolution: ink 28-45 px high, written at that size however wide they are.
`--sets` runs some of them (Tesseract is slow). Tesseract runs as
`tesseract IMAGE - -l tha --psm 7` (one line per image; `--tesseract-lang tha+eng` reads English
too), needs the Debian packages tesseract-ocr and tesseract-ocr-tha, and is skipped with a message
when they are missing. Both outputs are
scored with the same Thai normalisation (thaiocr.evaluate), which reads a run of spaces as one.
`--by-family` adds a row per font family under each reader's row. thaiocr decodes as `--decoder`
says (default: beam search with the model's language model where it has one); `--greedy-too` adds
a row of the same model decoded greedily, `--once-too` a row of it reading every line once
(`Recognizer(reread=False)`: no second, wider reading of crowded lines).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import heldout_lines  # bench/ is on sys.path when this script runs
import heldout_text
from heldout_lines import LineRecipe, Texts, draw_lines, write_set
from heldout_text import ProseLines, ReceiptLines
from thaiocr.charset import Charset
from thaiocr.evaluate import Metrics, breakdown, compare_lines, summarize
from thaiocr.labels import read_lines, split_line
from thaiocr.predict import Recognizer
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings
from thaiocr.synth.fonts import discover_fonts, fonts_fingerprint
from thaiocr.synth.lines import (
    PREFERRED_VAL_FAMILIES,
    SYNTH_VERSION,
    choose_val_fonts,
    dataset_is_current,
    font_families_beside,
    generate_dataset,
)
from thaiocr.synth.textsource import TextSource

SOURCE = "names"
CHARSET = "thai_full"
MAX_LENGTH = 40  # code points of a `names` line
HELD_OUT = PREFERRED_VAL_FAMILIES  # what every recipe's `val_fonts: 3` holds out
SEEN = ("Garuda", "Kinnari", "Loma", "Norasi", "Umpush", "Waree", "Sarabun", "Kanit", "Prompt",
        "NotoSansThai", "NotoSerifThai")
SEED = 2026  # any seed; fixed so every run scores the same lines
HEIGHT = 48  # lines are rendered 48 to 96 px high and written 48 px high
# The text sources of the bench-built sets, by the name a LineRecipe gives.
TEXTS: dict[str, Callable[[], Texts]] = {
    SOURCE: lambda: TextSource(SOURCE, Charset.builtin(CHARSET), MAX_LENGTH),
    "receipt": ReceiptLines,
    "prose": lambda: ProseLines(Charset.builtin(CHARSET)),
}


def effects_only(**sections: dict[str, Any]) -> EffectSettings:
    """Every effect, background and decoration off but ``sections`` (as EffectSettings.from_dict reads them)."""
    off = {name: {"probability": 0.0} for name in EffectSettings.disabled().to_dict()}
    return EffectSettings.from_dict(off | sections)


# `scan`: the paper, at print resolution ...
SCAN_PAPER = effects_only(paper={"probability": 0.8}, gradient={"probability": 0.3}, ink={"probability": 0.2})
# ... then what the scanner or camera does at its own, low resolution (the ink 14-24 px high).
SCAN_CAPTURE = effects_only(
    rotation={"probability": 1.0, "degrees": [-1.5, 1.5]},
    shadow={"probability": 0.2},
    uneven_light={"probability": 0.8, "strength": [0.1, 0.4]},
    blur={"probability": 0.6, "sigma": [0.3, 0.6]},
    tone={"probability": 1.0, "contrast": [0.4, 0.7], "brightness": [0.9, 1.1], "gamma": [0.8, 1.25]},
    noise={"probability": 0.7, "sigma": [2.0, 6.0]},
    jpeg={"probability": 1.0, "quality": [25, 50]},
)


class HeldoutSet(NamedTuple):
    """A set's effect chain and font families; a set other than synthesis's `names` lines written
    48 px high also has the recipe that bench/heldout_lines.py writes it by."""

    effects: EffectSettings
    families: tuple[str, ...]
    recipe: LineRecipe | None = None


SETS = {
    "clean": HeldoutSet(EffectSettings.disabled(), HELD_OUT),
    "degraded": HeldoutSet(DEFAULT_EFFECTS, HELD_OUT),
    "seen-fonts": HeldoutSet(EffectSettings.disabled(), SEEN),
    "scan": HeldoutSet(SCAN_PAPER, HELD_OUT,
                       LineRecipe(SOURCE, "document", ink_height=(14, 24), grayscale=True, after=SCAN_CAPTURE)),
    "receipt": HeldoutSet(EffectSettings.disabled(), ("TlwgTypewriter",),
                          LineRecipe("receipt", "document", narrow=(0.7, 1.0))),
    "long": HeldoutSet(EffectSettings.disabled(), HELD_OUT,
                       LineRecipe("prose", "document", render_height=64, ink_height=(28, 45), written_height=None)),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help=".onnx, best_model/ folder or .pt")
    parser.add_argument("--lines", type=int, default=500, help="lines per set")
    parser.add_argument("--data", type=Path, default=Path("data/heldout"))
    parser.add_argument("--sets", type=set_names, default=list(SETS), help=f"some of {','.join(SETS)} (default all)")
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--tesseract-lang", default="tha",
                        help="Tesseract's -l (default: %(default)s; tha+eng also reads the English of receipts)")
    parser.add_argument("--by-family", action="store_true", help="also score each font family")
    parser.add_argument("--decoder", choices=("auto", "beam", "greedy"), default="auto")
    parser.add_argument("--greedy-too", action="store_true", help="also a row of greedy decoding")
    parser.add_argument("--once-too", action="store_true",
                        help="also a row reading every line once (no second, wider reading of crowded lines)")
    args = parser.parse_args()
    recognizer = Recognizer.from_path(args.model, decoder=args.decoder)
    greedy = Recognizer.from_path(args.model, decoder="greedy") if args.greedy_too else None
    once = Recognizer.from_path(args.model, decoder=args.decoder, reread=False) if args.once_too else None
    tesseract = None if args.no_tesseract else find_tesseract(args.tesseract_lang)
    print(f"{'set':<16} {'reader':<10} {'lines':>6} {'line acc':>9} {'CER':>7} {'lines/s':>8}")
    for name in args.sets:
        images, truths = build_set(args.data / name, args.lines, *SETS[name])
        readers: dict[str, Callable[[list[Path]], list[str]]] = {"thaiocr": thaiocr_reader(recognizer)}
        if greedy:
            readers["greedy"] = thaiocr_reader(greedy)
        if once:
            readers["once"] = thaiocr_reader(once)
        if tesseract:
            readers["tesseract"] = tesseract_reader(tesseract, args.tesseract_lang)
        for reader, read in readers.items():
            started = time.perf_counter()
            predictions = read(images)
            rate = len(images) / (time.perf_counter() - started)
            results = compare_lines(predictions, truths, images)
            print(row(name, reader, summarize(results), rate))
            if args.by_family:
                families_of = font_families_beside(args.data / name / "rec_gt_val.txt")
                for family, metrics in breakdown(results, families_of).items():
                    print(row(f"  {family}", reader, metrics))


def set_names(text: str) -> list[str]:
    """``clean,scan`` -> the named sets, in the order given."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SETS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown sets {unknown}: choose from {', '.join(SETS)}")
    return names


def build_set(
    folder: Path, lines: int, effects: EffectSettings, families: tuple[str, ...], recipe: LineRecipe | None = None
) -> tuple[list[Path], list[str]]:
    """The set's images and labels, generated again when the generator, its settings or the fonts
    change (same seed: same lines in the held-out sets)."""
    fonts = discover_fonts()
    settings: dict[str, Any] = {"n_val": lines, "seed": SEED, "effects": effects.to_dict(),
                                "val_families": list(families)}  # fmt: skip
    settings |= ({"source": SOURCE, "height": HEIGHT} if recipe is None else
                 {"recipe": recipe.to_dict(), "versions": [heldout_lines.VERSION, heldout_text.VERSION]})  # fmt: skip
    if not dataset_is_current(folder, fonts, **settings):
        if recipe is None:
            generate_dataset(folder, n_train=0, n_val=lines, seed=SEED, source=SOURCE, progress=False,
                             val_fonts=families, charset=Charset.builtin(CHARSET), max_length=MAX_LENGTH,
                             height=HEIGHT, effects=effects)  # fmt: skip
        else:
            texts, faces = TEXTS[recipe.texts](), choose_val_fonts(fonts, families)
            write_set(folder, draw_lines(lines, SEED, texts, faces, effects, recipe),
                      {"synth_version": SYNTH_VERSION, "fonts_fingerprint": fonts_fingerprint(fonts), **settings})
    pairs = [split_line(text, "\t") for _, text in read_lines(folder / "rec_gt_val.txt")]
    return [folder / path for path, _ in pairs], [label for _, label in pairs]


def thaiocr_reader(recognizer: Recognizer) -> Callable[[list[Path]], list[str]]:
    return lambda images: [prediction.text for prediction in recognizer(images)]


def find_tesseract(lang: str) -> str | None:
    binary = shutil.which("tesseract")
    if binary is None:
        print("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-tha (skipping it)")
        return None
    languages = subprocess.run([binary, "--list-langs"], capture_output=True, text=True).stdout.split()
    missing = [name for name in lang.split("+") if name not in languages]
    if missing:
        print(f"tesseract has no {'+'.join(missing)} model: apt-get install -y "
              f"{' '.join('tesseract-ocr-' + name for name in missing)} (skipping it)")
        return None
    return binary


def tesseract_reader(binary: str, lang: str) -> Callable[[list[Path]], list[str]]:
    """Reads lines with one tesseract process per image, two at a time (one per core)."""

    def read_one(image: Path) -> str:
        command = [binary, str(image), "-", "-l", lang, "--psm", "7"]
        result = subprocess.run(command, capture_output=True, text=True, env={"OMP_THREAD_LIMIT": "1"})
        return " ".join(result.stdout.split())

    def read(images: list[Path]) -> list[str]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(read_one, images))

    return read


def row(name: str, reader: str, metrics: Metrics, rate: float | None = None) -> str:
    speed = "" if rate is None else f"{rate:>8.1f}"
    return f"{name:<16} {reader:<10} {metrics.n:>6} {metrics.line_acc:>9.2%} {metrics.cer:>7.2%} {speed}".rstrip()


if __name__ == "__main__":
    main()
