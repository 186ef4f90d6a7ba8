"""thaiocr against Tesseract on held-out Thai lines: per set, lines, line accuracy, CER and lines/s.

    python bench/heldout.py --model models/thai_general/best_model [--lines 500] [--no-tesseract] [--by-family]

The sets are built once into data/heldout/ (guide layout) and never trained on:
- text: Thai person names with titles (the `names` source), which the general recipe's training
  mix (words, phrases, abbreviations, Wikipedia titles, numbers, mixed) does not use;
- fonts: only the three families every recipe holds out (Laksaman, TlwgTypewriter, Sawasdee);
- `clean`: the same lines on a flat background with every effect off; `degraded`: with the default
  effects (blur, noise, JPEG, rotation, paper, ...).
A third set, `seen-fonts`, is a control and not held out: the same kind of text, clean, in eleven
common families that training does use (Debian's and the font wheels', so every set-up has them).
The gap between it and `clean` is what unseen letter shapes cost; what it misses itself is not
down to fonts.
Tesseract runs as `tesseract IMAGE - -l tha --psm 7` (one line per image), needs the Debian packages
tesseract-ocr and tesseract-ocr-tha, and is skipped with a message when they are missing. Both
outputs are scored with the same Thai normalisation (thaiocr.evaluate). `--by-family` adds a row per
font family under each reader's row.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from thaiocr.charset import Charset
from thaiocr.effectsettings import DEFAULT_EFFECTS, EffectSettings
from thaiocr.evaluate import Metrics, breakdown, compare_lines, summarize
from thaiocr.fonts import discover_fonts
from thaiocr.labels import read_lines, split_line
from thaiocr.predict import Recognizer
from thaiocr.synth import PREFERRED_VAL_FAMILIES, dataset_is_current, font_families_beside, generate_dataset

SOURCE = "names"
HELD_OUT = PREFERRED_VAL_FAMILIES  # what every recipe's `val_fonts: 3` holds out
SEEN = ("Garuda", "Kinnari", "Loma", "Norasi", "Umpush", "Waree", "Sarabun", "Kanit", "Prompt",
        "NotoSansThai", "NotoSerifThai")
# name -> (effects, font families)
SETS = {
    "clean": (EffectSettings.disabled(), HELD_OUT),
    "degraded": (DEFAULT_EFFECTS, HELD_OUT),
    "seen-fonts": (EffectSettings.disabled(), SEEN),
}
SEED = 2026  # any seed; fixed so every run scores the same lines
HEIGHT = 48  # lines are rendered 48 to 96 px high and written 48 px high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help=".onnx, best_model/ folder or .pt")
    parser.add_argument("--lines", type=int, default=500, help="lines per set")
    parser.add_argument("--data", type=Path, default=Path("data/heldout"))
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--by-family", action="store_true", help="also score each font family")
    args = parser.parse_args()
    recognizer = Recognizer.from_path(args.model)
    tesseract = None if args.no_tesseract else find_tesseract()
    print(f"{'set':<16} {'reader':<10} {'lines':>6} {'line acc':>9} {'CER':>7} {'lines/s':>8}")
    for name, (effects, families) in SETS.items():
        images, truths = build_set(args.data / name, args.lines, effects, families)
        readers: dict[str, Callable[[list[Path]], list[str]]] = {"thaiocr": thaiocr_reader(recognizer)}
        if tesseract:
            readers["tesseract"] = tesseract_reader(tesseract)
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


def build_set(
    folder: Path, lines: int, effects: EffectSettings, families: tuple[str, ...]
) -> tuple[list[Path], list[str]]:
    """The set's images and labels, generated again when the generator, its settings or the fonts
    change (same seed: same lines in the held-out sets)."""
    labels = folder / "rec_gt_val.txt"
    settings = {"n_val": lines, "seed": SEED, "source": SOURCE, "height": HEIGHT, "effects": effects.to_dict(),
                "val_families": list(families)}
    if not dataset_is_current(folder, discover_fonts(), **settings):
        generate_dataset(folder, n_train=0, n_val=lines, seed=SEED, source=SOURCE, progress=False, val_fonts=families,
                         charset=Charset.builtin("thai_full"), max_length=40, height=HEIGHT, effects=effects)
    pairs = [split_line(text, "\t") for _, text in read_lines(labels)]
    return [folder / path for path, _ in pairs], [label for _, label in pairs]


def thaiocr_reader(recognizer: Recognizer) -> Callable[[list[Path]], list[str]]:
    return lambda images: [prediction.text for prediction in recognizer(images)]


def find_tesseract() -> str | None:
    binary = shutil.which("tesseract")
    if binary is None:
        print("tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-tha (skipping it)")
        return None
    languages = subprocess.run([binary, "--list-langs"], capture_output=True, text=True).stdout.split()
    if "tha" not in languages:
        print("tesseract has no Thai model: apt-get install -y tesseract-ocr-tha (skipping it)")
        return None
    return binary


def tesseract_reader(binary: str) -> Callable[[list[Path]], list[str]]:
    """Reads lines with one tesseract process per image, two at a time (one per core)."""

    def read_one(image: Path) -> str:
        command = [binary, str(image), "-", "-l", "tha", "--psm", "7"]
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
