import random

import numpy as np
import pytest
from PIL import ImageFont

from conftest import font_named
from thaiocr.synth import render
from thaiocr.synth.effectsettings import EffectSettings
from thaiocr.synth.render import render_line, text_clusters

NO_EFFECTS = EffectSettings.disabled()

# --- rendering ----------------------------------------------------------------------------------


def ink_pixels(image) -> int:
    """Pixels far from the image's most common grey level (the background)."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    background = np.bincount(grey.ravel()).argmax()
    return int((np.abs(grey - background) > 40).sum())


@pytest.mark.parametrize("seed", range(8))
def test_render_draws_distinct_thai_digits_not_tofu(fonts, seed):
    font = font_named(fonts, "Garuda")
    one = render_line("๑", font, random.Random(seed))
    eight = render_line("๘", font, random.Random(seed))
    assert one.mode == "RGB"
    assert ink_pixels(one) > 20 and ink_pixels(eight) > 20
    # The same seed draws the same size, colours and effects: only a missing glyph (.notdef box
    # for both) would make the two images equal.
    assert one.tobytes() != eight.tobytes()


@pytest.mark.parametrize("seed", range(4))
def test_document_print_is_dark_ink_on_light_paper(fonts, seed):
    image = render_line("๐๘๑-๒๓๔-๕๖๗๘", font_named(fonts, "NotoSansThai-Regular"), random.Random(seed),
                        effects=NO_EFFECTS, style=render.PRINT_STYLES["document"])
    grey = np.asarray(image.convert("L"))
    assert np.median(grey) >= 200 and (grey < 70).sum() > 50
    spread = np.ptp(np.asarray(image).astype(int), axis=2)  # channels differ by the tint at most
    assert spread.max() <= 2 * render.PRINT_STYLES["document"].tint


@pytest.mark.parametrize("seed", range(6))
def test_render_height_is_about_one_to_two_model_heights(fonts, seed):
    image = render_line("1,234.50", font_named(fonts, "Loma"), random.Random(seed), height=32)
    assert 28 <= image.height <= 96


@pytest.mark.parametrize("tracking", [0.0, 1.0])
@pytest.mark.parametrize("text", ["กี่ปี", "๑,๒๓๔.๕๐", "ฎุ้ปั๋"])
def test_stacked_marks_and_descenders_are_never_cut_off(fonts, monkeypatch, text, tracking):
    monkeypatch.setattr(render, "TIGHT_CROP_PROBABILITY", 1.0)
    monkeypatch.setattr(render, "TRACKING_PROBABILITY", tracking)
    monkeypatch.setattr(render, "STROKE_PROBABILITY", 0.5)
    for seed in range(8):
        rng = random.Random(seed)
        image = render_line(text, font_named(fonts, "Norasi"), rng, effects=NO_EFFECTS)
        pixels = np.asarray(image)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert (border == pixels[0, 0]).all(), f"ink touches the edge for seed {seed}"


def test_clusters_keep_marks_with_their_base():
    assert text_clusters("กี่ 1๒") == ["กี่", " ", "1", "๒"]
    assert text_clusters("") == []


def test_letter_spacing_widens_the_line_by_the_gaps_between_clusters(fonts):
    face = ImageFont.truetype(str(font_named(fonts, "Garuda").path), 40, layout_engine=ImageFont.Layout.RAQM)
    margins = (0.0, 0.0, 0.0, 0.0)
    plain = render._layout("กี่ 12", face, margins).size
    spaced = render._layout("กี่ 12", face, margins, tracking=10).size
    assert abs(spaced[0] - plain[0] - 3 * 10) <= 3  # 4 clusters, 3 gaps; kerning is lost
    assert spaced[1] == plain[1]


@pytest.mark.parametrize("tracking", [0, 10])
def test_a_widened_space_adds_its_pixels_to_the_line_and_keeps_the_runs_shaped(fonts, tracking):
    face = ImageFont.truetype(str(font_named(fonts, "Garuda").path), 40, layout_engine=ImageFont.Layout.RAQM)
    margins = (0.0, 0.0, 0.0, 0.0)
    plain = render._layout("ราคา 12.50", face, margins, tracking=tracking)
    gapped = render._layout("ราคา 12.50", face, margins, tracking=tracking, spaces={4: 120.0})
    assert abs(gapped.size[0] - plain.size[0] - 120) <= 2
    assert gapped.size[1] == plain.size[1]
    if not tracking:  # two runs, each shaped whole
        assert len(gapped.masks) == 2


def test_free_print_never_widens_spaces_and_draws_nothing(fonts):
    rng = random.Random(3)
    state = rng.getstate()
    assert render._wide_spaces("รวม 120.00 บาท", rng, render.PRINT_STYLES["free"], 30.0) == {}
    assert rng.getstate() == state


def test_document_print_sets_some_lines_with_a_column_gap_and_some_justified(fonts):
    style = render.PRINT_STYLES["document"]
    text = "รวม 120.00 บาท"
    drawn = [render._wide_spaces(text, random.Random(seed), style, 30.0) for seed in range(400)]
    gaps = [spaces for spaces in drawn if len(spaces) == 1]
    justified = [spaces for spaces in drawn if len(spaces) == 2]
    assert 30 <= len(gaps) <= 90 and 30 <= len(justified) <= 90  # 15% each
    assert all(30.0 * low <= width <= 30.0 * high for spaces in gaps for width in spaces.values()
               for low, high in [style.column_gap])
    assert all(set(spaces) == {3, 10} and len(set(spaces.values())) == 1 for spaces in justified)
    assert render._wide_spaces("ไม่มีช่องว่าง", random.Random(0), style, 30.0) == {}


def test_a_stroke_widens_the_ink_box_by_its_width_each_side(fonts):
    face = ImageFont.truetype(str(font_named(fonts, "Garuda").path), 40, layout_engine=ImageFont.Layout.RAQM)
    plain = render._layout("๑๒๓", face, (0.1, 0.1, 0.1, 0.1))
    stroked = render._layout("๑๒๓", face, (0.1, 0.1, 0.1, 0.1), stroke=1)
    width = lambda box: box[2] - box[0]  # noqa: E731
    assert width(stroked.ink_box) == width(plain.ink_box) + 2


def test_default_lines_get_backgrounds_and_effects_but_keep_their_ink(fonts):
    font = font_named(fonts, "Loma")
    plain = [render_line("๐๘๑ ๒๓๔", font, random.Random(s), effects=NO_EFFECTS) for s in range(20)]
    varied = [render_line("๐๘๑ ๒๓๔", font, random.Random(s)) for s in range(20)]
    assert sum(a.tobytes() != b.tobytes() for a, b in zip(plain, varied, strict=True)) >= 15
    assert all(ink_pixels(image) > 50 for image in varied)


def test_decorations_keep_out_of_the_band_where_marks_would_be(fonts):
    face = ImageFont.truetype(str(font_named(fonts, "Garuda").path), 40, layout_engine=ImageFont.Layout.RAQM)
    plain = render._layout("ลามลวน", face, (2.0, 2.0, 2.0, 2.0))
    zone = render._mark_zone(plain, face)
    marked = render._layout("ปิ๊ฎู", face, (2.0, 2.0, 2.0, 2.0))
    assert zone[1] < plain.ink_box[1] and zone[3] > plain.ink_box[3]  # room for marks above and below
    assert zone[3] - zone[1] >= marked.ink_box[3] - marked.ink_box[1] - 2
