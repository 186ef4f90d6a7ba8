"""A recipe's synthesis settings are checked whole when it is loaded: `train`, `data check` and
`cloud check` refuse the same misspelled effect, text source or look with the same message."""

from __future__ import annotations

from pathlib import Path

import pytest

from thaiocr.config import load_config
from thaiocr.errors import ConfigError

GENERAL = Path(__file__).resolve().parents[1] / "configs" / "rec" / "thai_general.yml"

# (text in the shipped general recipe, its misspelling, what the message must name)
MISSPELLINGS = [
    ("speckle: {probability: 0.2}", "speckel: {probability: 0.2}",
     "Train.dataset.synth.looks.documents.effects: unknown effect 'speckel'; did you mean 'speckle'?"),
    ("source: {prose: 5, receipts: 2,", "source: {prosa: 5, receipts: 2,",
     "Train.dataset.synth.looks.documents.source: unknown text source 'prosa'; did you mean 'prose'?"),
    ("print: document", "print: documents",
     "Train.dataset.synth.looks.documents.print: unknown style 'documents'; did you mean 'document'?"),
    ("val_fonts: 3                # Laksaman", "val_fonts: 3\n      effect: {}  # Laksaman",
     "'Train.dataset.synth.effect'; did you mean 'effects'?"),
]


def misspelled_recipe(folder: Path, right: str, wrong: str) -> Path:
    text = GENERAL.read_text(encoding="utf-8")
    assert right in text
    path = folder / "recipe.yml"
    path.write_text(text.replace(right, wrong, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("right", "wrong", "message"), MISSPELLINGS)
def test_loading_names_the_bad_key(tmp_path, right, wrong, message) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(misspelled_recipe(tmp_path, right, wrong))
    assert message in str(caught.value)


@pytest.mark.parametrize(("right", "wrong", "message"), MISSPELLINGS[:2])
@pytest.mark.parametrize("command", [("-q", "train"), ("data", "check")])
def test_train_and_data_check_refuse_alike(run_cli, tmp_path, command, right, wrong, message) -> None:
    code, _, err = run_cli(*command, "-c", misspelled_recipe(tmp_path, right, wrong))
    assert code == 2 and message in err


def test_a_bad_effect_inside_an_eval_section_is_named_too(tmp_path) -> None:
    eval_fonts = "      val_fonts: 3\n    transforms:"
    recipe = misspelled_recipe(tmp_path, eval_fonts, eval_fonts.replace("\n", "\n      effects: {jpg: {}}\n", 1))
    message = r"Eval\.dataset\.synth\.effects: unknown effect 'jpg'; did you mean 'jpeg'\?"
    with pytest.raises(ConfigError, match=message):
        load_config(recipe)


@pytest.mark.parametrize("recipe", sorted(GENERAL.parent.glob("*.yml")), ids=lambda path: path.name)
def test_every_shipped_recognition_recipe_passes(recipe) -> None:
    assert load_config(recipe).Global.epoch_num > 0
