"""The beam search's weights on tuning lines no training source, language model or benchmark reads.

    python bench/lm_tuning.py [--model shipped] [--lines 400] [--alphas 0.2,0.4,0.6,0.8] [--betas 0,1]

The lines: phrases of 1 to several words of the Volubilis dictionary (pythainlp's
volubilis_words_th.txt; training reads words_th.txt, Wikipedia titles and the Thai Textbook
Corpus, bench/heldout.py names and the Thai National Corpus), 8 to 40 code points, a space between
words now and then, in the three held-out font families, once clean and once with the default
effects; built once into DATA/clean and DATA/degraded. For greedy decoding and for every
alpha x beta (thaiocr.ctcbeam.BeamSettings; the model's own language model) it prints line accuracy
and CER per set. The shipped settings were chosen on these lines (the model card).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path

from thaiocr.charset import Charset, normalize_text
from thaiocr.evaluate import compare_lines, summarize
from thaiocr.labels import read_lines, split_line
from thaiocr.predict import Recognizer
from thaiocr.synth.corpora import has_orphan_mark, pythainlp_lines
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings
from thaiocr.synth.lines import PREFERRED_VAL_FAMILIES, generate_dataset

WORDS_FILE = "volubilis_words_th.txt"
SEED = 7
SETS = {"clean": EffectSettings.disabled(), "degraded": DEFAULT_EFFECTS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="shipped", help="a model folder with charlm.gz, or a shipped name")
    parser.add_argument("--lines", type=int, default=400, help="lines per set")
    parser.add_argument("--alphas", default="0.2,0.4,0.6,0.8")
    parser.add_argument("--betas", default="0,1")
    parser.add_argument("--data", type=Path, default=Path("data/bench/lm_tuning"))
    args = parser.parse_args()
    sets = {name: tuning_set(args.data, name, args.lines) for name in SETS}
    beam = Recognizer(args.model, decoder="beam")
    greedy = Recognizer(args.model, decoder="greedy")
    print(f"{'decoder':<24} " + " ".join(f"{name + ' acc':>14} {'CER':>7}" for name in sets))
    print(row("greedy", greedy, sets))
    for alpha in map(float, args.alphas.split(",")):
        for beta in map(float, args.betas.split(",")):
            beam.beam = replace(beam.beam, alpha=alpha, beta=beta)
            print(row(f"beam alpha {alpha} beta {beta}", beam, sets))


def row(name: str, recognizer: Recognizer, sets: dict[str, tuple[list[Path], list[str]]]) -> str:
    cells = []
    for images, truths in sets.values():
        metrics = summarize(compare_lines([p.text for p in recognizer(images)], truths, images))
        cells.append(f"{metrics.line_acc:>14.2%} {metrics.cer:>7.2%}")
    return f"{name:<24} " + " ".join(cells)


def tuning_set(data: Path, name: str, lines: int) -> tuple[list[Path], list[str]]:
    """The set's images and labels, rendered on first use (same seed, same lines)."""
    folder = data / name
    labels = folder / "rec_gt_val.txt"
    if not labels.is_file() or len(read_lines(labels)) != lines:
        corpus = data / "phrases.txt"
        corpus.parent.mkdir(parents=True, exist_ok=True)
        corpus.write_text("\n".join(phrases(3 * lines)) + "\n", encoding="utf-8")
        generate_dataset(folder, n_train=0, n_val=lines, seed=SEED + 4, source={"corpus": {"path": str(corpus)}},
                         val_fonts=PREFERRED_VAL_FAMILIES, charset=Charset.builtin("thai_full"), max_length=40,
                         height=48, effects=SETS[name], progress=False)
    pairs = [split_line(text, "\t") for _, text in read_lines(labels)]
    return [folder / path for path, _ in pairs], [label for _, label in pairs]


def phrases(count: int) -> list[str]:
    charset = Charset.builtin("thai_full")
    words = [word for word in pythainlp_lines(WORDS_FILE)
             if " " not in word and not charset.unknown_chars(word) and not has_orphan_mark(word)]
    rng = random.Random(SEED)
    out: list[str] = []
    while len(out) < count:
        target, text = rng.randint(8, 40), ""
        while True:
            joined = text + (" " if text and rng.random() < 0.3 else "") + rng.choice(words)
            if len(joined) > target:
                break
            text = joined
        if text := normalize_text(text):
            out.append(text)
    return out


if __name__ == "__main__":
    main()
