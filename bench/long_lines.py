"""Long lines (60-100 code points) read whole: cut at gaps into pieces (what `Recognizer` does) against
squeezed into the model's input width (what it did before, and what training does to a wide line).

    python bench/long_lines.py [--model M] [--lines 100] [--height 40] [--seed 24] [--rounds 3]

The text joins words of pythainlp's Thai National Corpus frequency list (`tnc_freq.txt`), drawn by
frequency, into phrases of one to four words with a space between phrases (training's text sources
use other lists). Each line is rendered clean (every effect off) in one of the families every recipe
holds out (`synth.PREFERRED_VAL_FAMILIES`), about --height px high, and kept in memory. Prints line
accuracy, CER and lines/s (the median of --rounds, the two ways taking turns) for each way of
reading, overall, per family and by width, and the CPU: lines/s is indicative on a shared machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from PIL import Image

from thaiocr.charset import Charset
from thaiocr.evaluate import Metrics, breakdown, compare_lines, summarize
from thaiocr.predict import Recognizer
from thaiocr.synth.corpora import lines_in_alphabet, pythainlp_lines
from thaiocr.synth.effectsettings import EffectSettings
from thaiocr.synth.fonts import discover_fonts
from thaiocr.synth.lines import PREFERRED_VAL_FAMILIES
from thaiocr.synth.render import render_line

MIN_LENGTH, MAX_LENGTH = 60, 100  # code points per line
MAX_PHRASE_WORDS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--height", type=int, default=40, help="rendered this to twice this high, mostly near it")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--rounds", type=int, default=3, help="lines/s is the median of this many rounds")
    args = parser.parse_args()

    recognizer = Recognizer(args.model, num_threads=args.threads)
    rng = random.Random(args.seed)
    fonts = [font for font in discover_fonts() if font.family in PREFERRED_VAL_FAMILIES]
    words, weights = tnc_words(recognizer.charset)
    truths = [long_text(rng, words, weights) for _ in range(args.lines)]
    faces = [rng.choice(fonts) for _ in truths]
    clean = EffectSettings.disabled()
    images = [render_line(text, font, rng, args.height, clean) for text, font in zip(truths, faces, strict=True)]
    scale = recognizer.preprocess
    widths = [scale.target_width(*image.size) for image in images]
    keys = [Path(str(i)) for i in range(len(images))]
    groups = {"family": {key: font.family for key, font in zip(keys, faces, strict=True)},
              "width": {key: f"{'over' if w > scale.max_width else 'within'} {scale.max_width} px"
                        for key, w in zip(keys, widths, strict=True)}}

    print(f"CPU {cpu_name()} (shared with other work: lines/s is indicative)")
    print(f"model {recognizer.source}, input {scale.height} x up to {scale.max_width} px")
    print(f"{len(images)} lines, {sum(map(len, truths)) / len(truths):.0f} code points on average, "
          f"{min(widths)}-{max(widths)} px wide at {scale.height} px (mean {sum(widths) / len(widths):.0f})")
    print(f"{'reading':<20} {'lines':>6} {'line acc':>9} {'CER':>7} {'lines/s':>8}")
    readers = {"cut": lambda: [p.text for p in recognizer(images, batch_size=args.batch_size)],
               "squeeze": lambda: squeezed_texts(recognizer, images, args.batch_size)}
    recognizer(images[: args.batch_size])  # warm-up: ONNX Runtime plans its kernels on the first runs
    rates: dict[str, list[float]] = {name: [] for name in readers}
    predictions: dict[str, list[str]] = {}
    for _ in range(args.rounds):  # the readers take turns, so that a burst of other work hits both
        for name, read in readers.items():
            started = time.perf_counter()
            predictions[name] = read()
            rates[name].append(len(images) / (time.perf_counter() - started))
    for name, texts in predictions.items():
        results = compare_lines(texts, truths, keys)
        print(row(name, summarize(results), statistics.median(rates[name])))
        for group_of in groups.values():
            for group, metrics in breakdown(results, group_of).items():
                print(row(f"  {group}", metrics))


def tnc_words(charset: Charset) -> tuple[list[str], list[int]]:
    """The corpus's words the model's alphabet can spell, and their frequencies."""
    entries = [line.split("\t") for line in pythainlp_lines("tnc_freq.txt")]
    frequency = {word: int(count) for word, count in entries}
    words = lines_in_alphabet(list(frequency), charset, "tnc_freq.txt")
    return words, [frequency[word] for word in words]


def long_text(rng: random.Random, words: list[str], weights: list[int]) -> str:
    """Phrases of frequency-drawn words, a space between phrases, MIN_LENGTH to MAX_LENGTH code points."""
    target = rng.randint(MIN_LENGTH, MAX_LENGTH)
    text = ""
    while len(text) < target:
        phrase = "".join(rng.choices(words, weights, k=rng.randint(1, MAX_PHRASE_WORDS)))
        longer = f"{text} {phrase}" if text else phrase
        if len(longer) <= MAX_LENGTH:
            text = longer
        elif len(text) >= MIN_LENGTH:
            break
    return text


def squeezed_texts(recognizer: Recognizer, images: list[Image.Image], batch_size: int) -> list[str]:
    """Each line squeezed into the model's width (``Preprocess.resize``) and read, batched by width."""
    resized = [recognizer.preprocess.resize(image) for image in images]
    order = sorted(range(len(resized)), key=lambda i: resized[i].shape[1])
    texts = [""] * len(resized)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for i, (text, _) in zip(chunk, recognizer.read_batch([resized[i] for i in chunk]), strict=True):
            texts[i] = text
    return texts


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def row(name: str, metrics: Metrics, rate: float | None = None) -> str:
    speed = "" if rate is None else f"{rate:>8.1f}"
    return f"{name:<20} {metrics.n:>6} {metrics.line_acc:>9.2%} {metrics.cer:>7.2%} {speed}".rstrip()


if __name__ == "__main__":
    main()
