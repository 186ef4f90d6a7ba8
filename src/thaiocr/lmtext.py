"""The text a recipe trains on, counted into its character language model (``thaiocr lm``).

The model then knows only what training already read: the lines its synthetic looks draw (each
look's text sources, by the looks' weights, as :class:`~thaiocr.synthstream.SynthDataset` picks
them) and the labels of its training label files. Benchmark text never enters.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from thaiocr.charlm import CharLM, build_lm
from thaiocr.charset import load_charset
from thaiocr.config import Config, SynthConfig
from thaiocr.data import select_samples
from thaiocr.runfolder import LM_NAME, MODEL_FOLDER
from thaiocr.synth.fonts import discover_fonts
from thaiocr.synth.lines import fonts_by_split
from thaiocr.synth.looks import build_looks, choose_look


def recipe_lm(config: Config, lines: int, order: int, min_count: int, seed: int = 0,
              progress: bool = True) -> CharLM:
    """Count ``lines`` synthetic training lines (none for a recipe without synthesis) and every
    training label into a language model for the recipe's alphabet."""
    charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
    dataset = config.Train.dataset
    max_length = config.Global.max_text_length
    labelled = ([s.text for s in select_samples(dataset, charset, max_length, "Train", "exists")]
                if dataset.label_file_list else [])
    drawn = _synthetic_texts(config, lines, seed) if dataset.is_synthetic else iter(())
    texts = tqdm(drawn, total=lines, desc="drawing lines", unit="line",
                 disable=not progress or not dataset.is_synthetic)
    about = {"recipe": config.source.name if config.source else None, "seed": seed,
             "synthetic_lines": lines if dataset.is_synthetic else 0, "labelled_lines": len(labelled)}
    return build_lm([*texts, *labelled], charset, order, min_count, about)


def _synthetic_texts(config: Config, count: int, seed: int) -> Iterator[str]:
    settings = config.Train.dataset.synth or SynthConfig()
    charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
    fonts = discover_fonts([settings.fonts_dir] if settings.fonts_dir else [])
    split_fonts, _ = fonts_by_split(fonts, settings.val_fonts)
    looks = build_looks(settings.looks, split_fonts["train"], settings.source, settings.effects, charset,
                        config.Global.max_text_length, where="Train.dataset.synth")
    rng = random.Random(seed)
    for _ in range(count):
        yield choose_look(rng, looks).source.sample(rng)


def default_lm_path(config: Config) -> Path:
    """Where ``thaiocr lm`` writes by default: beside the run's exported model."""
    return Path(config.Global.save_model_dir) / MODEL_FOLDER / LM_NAME
