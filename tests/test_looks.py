import random

import pytest

from thaiocr.charset import Charset
from thaiocr.config import ConfigError
from thaiocr.synth.fonts import is_text_face
from thaiocr.synth.looks import build_looks, choose_look
from thaiocr.synth.render import PRINT_STYLES

THAI_FULL = Charset.builtin("thai_full")


def looks(fonts, spec, source="words", effects=None):
    return build_looks(spec, fonts, source, effects, THAI_FULL, 40, "Train.dataset.synth")


def test_without_looks_the_section_is_one_free_look_of_every_font(fonts):
    (only,) = looks(fonts, None, effects={"jpeg": {"probability": 0}})
    assert only.style == PRINT_STYLES["free"] and only.fonts.fonts == tuple(fonts)
    assert only.effects.jpeg.probability == 0 and only.source.labels == ("words",)
    rng = random.Random(1)
    assert choose_look(rng, [only]) is only and rng.random() == random.Random(1).random()  # drew nothing


def test_document_looks_draw_upright_body_text_faces_and_inherit_what_they_leave_out(fonts):
    documents, posters = looks(fonts, {"documents": {"weight": 3, "print": "document", "source": "prose"},
                                       "posters": None}, effects={"blur": {"probability": 0}})
    assert all(is_text_face(font) for font in documents.fonts.fonts)
    assert not any("Italic" in font.name or "Bold" in font.name for font in documents.fonts.fonts)
    assert documents.source.labels == ("prose",) and posters.source.labels == ("words",)
    assert documents.effects.blur.probability == 0 == posters.effects.blur.probability
    picks = [choose_look(random.Random(seed), [documents, posters]).name for seed in range(400)]
    assert 0.65 < picks.count("documents") / len(picks) < 0.85


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"docs": {"wieght": 2}}, r"Train.dataset.synth.looks.docs: unknown key 'wieght'.*did you mean 'weight'"),
        ({"docs": {"print": "docment"}}, r"looks.docs.print: unknown style 'docment'.*did you mean 'document'"),
        ({"docs": {"weight": 0}}, r"looks.docs.weight: expected a positive number, got 0"),
        ({"docs": {"effects": {"blurr": {}}}}, r"looks.docs.effects: unknown effect 'blurr'"),
        ({"docs": "document"}, r"looks.docs: expected a mapping"),
        (["documents"], r"looks: expected a mapping of look names"),
    ],
)
def test_bad_looks_are_config_errors_naming_the_key(fonts, spec, message):
    with pytest.raises(ConfigError, match=message):
        looks(fonts, spec)
