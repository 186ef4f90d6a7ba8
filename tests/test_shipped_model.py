"""The printed-Thai models shipped in the package: present, small, named, and used by default."""

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import font_named
from thaiocr.charset import Charset
from thaiocr.config import load_config
from thaiocr.evaluate import compute_metrics
from thaiocr.finetune import load_pretrained
from thaiocr.model import build_model
from thaiocr.predict import Recognizer, shipped_model_path
from thaiocr.shipped import SHIPPED_MODELS, pretrained_folder

RECIPE = Path(__file__).parents[1] / "configs" / "rec" / "thai_general.yml"
PLAIN_LINES = ("ภาษาไทย", "ผู้ใหญ่บ้าน", "ราคา ๑๒๐ บาท")
SIZE_LIMIT = 20 * 2**20  # issue 24: a shipped model folder, language model included, at most 20 MB


def plain_line(text: str, font_path: Path) -> Image.Image:
    """Black text on white, 40 px, with a little margin: the easiest kind of crop."""
    face = ImageFont.truetype(str(font_path), 40, layout_engine=ImageFont.Layout.RAQM)
    left, top, right, bottom = face.getbbox(text)
    image = Image.new("RGB", (right - left + 24, bottom - top + 16), "white")
    ImageDraw.Draw(image).text((12 - left, 8 - top), text, font=face, fill="black")
    return image


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_each_shipped_folder_holds_a_small_self_describing_model(name):
    folder = shipped_model_path(name).parent
    names = {path.name for path in folder.iterdir()}
    assert {"inference.onnx", "dict.txt", "config.yml", "model.pt", "MODEL_CARD.md"} <= names
    assert sum(p.stat().st_size for p in folder.iterdir()) <= SIZE_LIMIT
    recognizer = Recognizer(name)
    assert recognizer.charset.chars == Charset.builtin("thai_full").chars
    assert Path(recognizer.source) == shipped_model_path(name)


def test_recognizer_without_a_model_is_the_shipped_one_and_small_is_another():
    assert Path(Recognizer().source) == shipped_model_path("shipped")
    assert shipped_model_path("shipped-small").parent.name == "thai_general_small"
    assert shipped_model_path("shipped-small") != shipped_model_path()


def test_recognizer_without_a_model_reads_plain_thai_lines(fonts):
    """A young model, weaker than Tesseract (see its MODEL_CARD.md): most characters right, not every line."""
    font = font_named(fonts, "Sarabun-Regular")
    predictions = Recognizer()([plain_line(text, font.path) for text in PLAIN_LINES])
    assert predictions[0].text == PLAIN_LINES[0]
    assert compute_metrics([p.text for p in predictions], list(PLAIN_LINES)).cer <= 0.1
    assert all(0 < p.confidence <= 1 for p in predictions)


@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_a_shipped_export_reads_plain_lines_as_its_checkpoint_does(name, fonts):
    folder = shipped_model_path(name).parent
    lines = [plain_line(text, font_named(fonts, "Sarabun-Regular").path) for text in PLAIN_LINES]
    from_onnx = Recognizer(folder / "inference.onnx", decoder="greedy")(lines)
    from_checkpoint = Recognizer(folder / "model.pt", decoder="greedy")(lines)
    assert [p.text for p in from_onnx] == [p.text for p in from_checkpoint]
    assert [p.confidence for p in from_onnx] == pytest.approx([p.confidence for p in from_checkpoint], abs=0.05)


def test_cli_predict_without_model_uses_the_shipped_one(run_cli, fonts, tmp_path):
    image = tmp_path / "line.png"
    plain_line(PLAIN_LINES[0], font_named(fonts, "Sarabun-Regular").path).save(image)
    code, out, _ = run_cli("predict", image)
    assert code == 0 and out.split("\t")[:2] == [str(image), PLAIN_LINES[0]]
    code, out, _ = run_cli("predict", "--model", "shipped-small", image)
    assert code == 0 and out.split("\t")[:2] == [str(image), PLAIN_LINES[0]]


def test_pretrained_shipped_loads_into_the_general_recipe_for_fine_tuning():
    config = load_config(RECIPE, [])
    charset = Charset.builtin("thai_full")
    model = build_model(config.Architecture, charset.num_classes)
    report = load_pretrained(model, charset, pretrained_folder("shipped"))
    assert report.copied == report.total and len(report.kept) == len(charset) and not report.new and not report.dropped


def test_the_demo_recipe_starts_from_the_small_shipped_model_with_its_digit_rows():
    config = load_config(RECIPE.with_name("numbers.yml"), [])
    assert config.Global.pretrained_model == shipped_model_path("shipped-small").parent
    charset = Charset.builtin("digits", use_space_char=True)
    model = build_model(config.Architecture, charset.num_classes)
    report = load_pretrained(model, charset, config.Global.pretrained_model)
    assert report.remapped and not report.new and len(report.kept) == len(charset)
    assert report.copied == report.total - len(report.remapped)


def test_a_recipe_names_the_shipped_model_as_shipped_in_yaml_or_override(tmp_path):
    recipe = tmp_path / "recipe.yml"
    recipe.write_text("Global:\n  pretrained_model: shipped\n", encoding="utf-8")
    assert load_config(recipe, []).Global.pretrained_model == shipped_model_path().parent
    overridden = load_config(RECIPE, ["Global.pretrained_model=shipped"]).Global.pretrained_model
    assert overridden == shipped_model_path().parent
    small = load_config(RECIPE, ["Global.pretrained_model=shipped-small"]).Global.pretrained_model
    assert small == shipped_model_path("shipped-small").parent
    a_file = load_config(recipe, ["Global.pretrained_model=shipped.pt"]).Global.pretrained_model
    assert a_file == Path.cwd() / "shipped.pt"


def test_a_missing_shipped_model_is_a_clear_error(monkeypatch, tmp_path):
    from thaiocr import shipped
    from thaiocr.errors import ThaiOCRError

    monkeypatch.setitem(shipped.SHIPPED_MODELS, "shipped", "not_there")
    with pytest.raises(ThaiOCRError, match="no shipped model; name one with --model"):
        Recognizer()
