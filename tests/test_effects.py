import json
import random
from dataclasses import fields, replace

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from thaiocr.config import ConfigError
from thaiocr.synth.backgrounds import decorate, draw_rules, draw_underline, make_background, paste_intruder
from thaiocr.synth.effects import CHAIN_ORDER, apply_effects
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS, EffectSettings, Jpeg

PAPER, INK = (240, 236, 228), (20, 20, 24)
BAR = (40, 18, 280, 30)  # left, top, right, bottom (exclusive) of the ink in _line()


def _line() -> Image.Image:
    image = Image.new("RGB", (320, 48), PAPER)
    ImageDraw.Draw(image).rectangle((BAR[0], BAR[1], BAR[2] - 1, BAR[3] - 1), fill=INK)
    return image


def _all_off() -> EffectSettings:
    return EffectSettings.from_dict({item.name: {"probability": 0} for item in fields(EffectSettings)})


def _only(name: str) -> EffectSettings:
    off = _all_off()
    return replace(off, **{name: replace(getattr(off, name), probability=1.0)})


# --- the chain ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes():
    for seed in range(8):
        first = apply_effects(_line(), PAPER, random.Random(seed))
        second = apply_effects(_line(), PAPER, random.Random(seed))
        assert first.size == second.size and first.tobytes() == second.tobytes()
    outputs = {apply_effects(_line(), PAPER, random.Random(seed)).tobytes() for seed in range(8)}
    assert len(outputs) >= 6


@pytest.mark.parametrize("name", CHAIN_ORDER)
def test_each_effect_changes_the_image_when_forced_on(name):
    line = _line()
    for seed in range(3):
        out = apply_effects(line, PAPER, random.Random(seed), _only(name))
        assert out.mode == "RGB"
        assert out.size != line.size or out.tobytes() != line.tobytes()
        if name not in ("rotation", "perspective"):
            assert out.size == line.size


def test_nothing_changes_when_every_probability_is_zero():
    line = _line()
    assert apply_effects(line, PAPER, random.Random(0), _all_off()).tobytes() == line.tobytes()


def test_geometry_keeps_the_whole_line_on_a_canvas_a_little_larger_or_smaller():
    line = _line()
    ink = (np.asarray(line.convert("L")) < 128).sum()
    for seed in range(10):
        rotated = apply_effects(line, PAPER, random.Random(seed), _only("rotation"))
        assert rotated.width >= line.width and rotated.height >= line.height
        assert rotated.height <= line.height + 320 * 0.035 + 2  # sin(2 degrees) of the width
        warped = apply_effects(line, PAPER, random.Random(seed), _only("perspective"))
        assert abs(warped.width - line.width) <= 8 and abs(warped.height - line.height) <= 8
        for out in (rotated, warped):  # nothing cropped
            assert abs((np.asarray(out.convert("L")) < 128).sum() - ink) < 0.1 * ink


def test_a_warp_bends_the_strokes_without_tearing_or_losing_them():
    line = _line()
    ink = np.asarray(line.convert("L")) < 128
    for seed in range(10):
        out = apply_effects(line, PAPER, random.Random(seed), _only("warp"))
        warped = np.asarray(out.convert("L")) < 128
        assert out.size == line.size and (warped != ink).any()
        assert abs(int(warped.sum()) - int(ink.sum())) < 0.15 * ink.sum()  # bent, not cut off
        columns = warped[:, BAR[0] + 4 : BAR[2] - 4].any(axis=0)
        assert columns.all()  # one unbroken stroke, as the bar was
        assert warped[BAR[1] - 3 : BAR[3] + 3].sum() > 0.95 * warped.sum()  # moved by a few pixels at most


def test_a_warp_keeps_strokes_at_the_edges_on_the_canvas():
    line = Image.new("RGB", (320, 48), PAPER)
    ImageDraw.Draw(line).rectangle((40, 45, 279, 47), fill=INK)  # a leader of ___ on a tight crop's last rows
    ink = (255 - np.asarray(line.convert("L"), dtype=np.float32)).sum()
    for seed in range(20):
        out = apply_effects(line, PAPER, random.Random(seed), _only("warp"))
        kept = (255 - np.asarray(out.convert("L"), dtype=np.float32)).sum()
        assert kept == pytest.approx(ink, rel=0.05)


def test_other_modes_come_out_rgb():
    grey = _line().convert("L")
    assert apply_effects(grey, PAPER, random.Random(0)).mode == "RGB"


def test_ink_bleed_thickens_dark_strokes_and_light_ones_on_dark_paper():
    settings = replace(_only("ink"), ink=replace(DEFAULT_EFFECTS.ink, probability=1.0, bleed_probability=1.0))
    dark = np.asarray(apply_effects(_line(), PAPER, random.Random(0), settings).convert("L"))
    assert dark[BAR[1] - 1, 100] < 200  # the row above the bar darkens
    inverted = Image.eval(_line(), lambda v: 255 - v)
    light = np.asarray(apply_effects(inverted, (15, 19, 27), random.Random(0), settings).convert("L"))
    assert light[BAR[1] - 1, 100] > 55


def test_the_default_chain_keeps_ink_and_paper_apart():
    contrasts = []
    for seed in range(40):
        out = np.asarray(apply_effects(_line(), PAPER, random.Random(seed)).convert("L"), dtype=np.float32)
        cy, cx = out.shape[0] // 2, out.shape[1] // 2  # geometry moves the bar, not its middle, by much
        ink = out[cy - 3 : cy + 3, cx - 60 : cx + 60].mean()
        paper = out[: cy - 12, cx - 60 : cx + 60].mean()
        contrasts.append(paper - ink)
    assert np.mean(contrasts) > 170  # 220 before the effects
    assert min(contrasts) > 90


# --- settings -----------------------------------------------------------------------------------


def test_the_settings_list_the_effects_in_chain_order_then_backgrounds_and_decorations():
    names = [item.name for item in fields(EffectSettings)]
    assert names == [*CHAIN_ORDER, "paper", "gradient", "underline", "rules", "intruders"]


def test_settings_from_a_partial_mapping_keep_the_other_defaults():
    settings = EffectSettings.from_dict({"jpeg": {"probability": 0}, "blur": {"sigma": [0.5, 2]}, "noise": None})
    assert settings.jpeg == Jpeg(probability=0.0, quality=DEFAULT_EFFECTS.jpeg.quality)
    assert settings.blur.sigma == (0.5, 2.0)
    assert settings.noise == DEFAULT_EFFECTS.noise
    assert settings.rotation == DEFAULT_EFFECTS.rotation
    assert EffectSettings.from_dict(None) == DEFAULT_EFFECTS


def test_a_single_number_fixes_a_range_and_yaml_exponents_are_numbers():
    settings = EffectSettings.from_dict(yaml.safe_load("jpeg: {quality: 50}\nnoise: {salt_pepper: [1e-4, 2e-3]}"))
    assert settings.jpeg.quality == (50, 50)
    assert settings.noise.salt_pepper == (0.0001, 0.002)


def test_to_dict_round_trips_through_json_and_yaml():
    settings = EffectSettings.from_dict({"rotation": {"degrees": [-1, 3]}, "paper": {"fibres": [2, 9]}})
    data = settings.to_dict()
    assert set(data) == {item.name for item in fields(EffectSettings)}
    assert EffectSettings.from_dict(json.loads(json.dumps(data))) == settings
    assert EffectSettings.from_dict(yaml.safe_load(yaml.safe_dump(data))) == settings


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rotaton": {}}, "effects: unknown effect 'rotaton'; did you mean 'rotation'?"),
        ({"blur": {"sigmma": [1, 2]}}, "effects.blur: unknown key 'sigmma'; did you mean 'sigma'?"),
        ({"blur": {"sigma": [2, 1]}}, "effects.blur.sigma: low 2.0 is above high 1.0"),
        ({"noise": {"probability": 1.5}}, "effects.noise.probability: 1.5 is outside [0.0, 1.0]"),
        ({"jpeg": {"quality": [30.5, 60]}}, "effects.jpeg.quality: expected an integer, got 30.5"),
        ({"jpeg": {"quality": [30, 60, 90]}}, "effects.jpeg.quality: expected [low, high]"),
        ({"tone": {"gamma": ["low", 1]}}, "effects.tone.gamma: expected a number, got 'low'"),
        ({"shadow": {"probability": True}}, "effects.shadow.probability: expected a number, got True"),
        ({"shadow": [0.5]}, "effects.shadow: expected a mapping of settings"),
        ([1, 2], "effects: expected a mapping of effect names"),
    ],
)
def test_bad_settings_say_where_and_what(raw, message):
    with pytest.raises(ConfigError) as error:
        EffectSettings.from_dict(raw)
    assert message in str(error.value)


def test_settings_built_in_code_are_checked_too():
    with pytest.raises(ConfigError, match="degrees: low 3 is above high -3"):
        replace(DEFAULT_EFFECTS.rotation, degrees=(3, -3))


# --- backgrounds and decorations ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["default mix", "paper", "gradient"])
def test_backgrounds_are_deterministic_rgb_of_the_asked_size(kind):
    settings = DEFAULT_EFFECTS if kind == "default mix" else _only(kind)
    for seed in range(4):
        first = make_background((300, 40), PAPER, random.Random(seed), settings)
        second = make_background((300, 40), PAPER, random.Random(seed), settings)
        assert first.mode == "RGB" and first.size == (300, 40)
        assert first.tobytes() == second.tobytes()


def test_a_flat_background_is_the_colour_and_textures_stay_near_it():
    flat = make_background((200, 40), PAPER, random.Random(0), _all_off())
    assert flat.tobytes() == Image.new("RGB", (200, 40), PAPER).tobytes()
    for name in ("paper", "gradient"):
        textured = np.asarray(make_background((200, 40), PAPER, random.Random(1), _only(name)), dtype=np.float32)
        assert textured.std(axis=(0, 1)).min() > 0.5
        assert np.abs(textured.mean(axis=(0, 1)) - PAPER).max() < 12


def test_an_underline_sits_under_the_ink_box():
    image = Image.new("RGB", (200, 48), PAPER)
    draw_underline(image, (20, 8, 180, 34), INK, random.Random(0))
    dark_rows = np.flatnonzero((np.asarray(image.convert("L")) < 128).any(axis=1))
    assert len(dark_rows) and dark_rows.min() >= 34


def test_rules_cross_the_whole_image_outside_the_ink_box():
    for seed in range(6):
        image = Image.new("RGB", (200, 48), PAPER)
        draw_rules(image, (20, 10, 180, 38), INK, random.Random(seed))
        dark = np.asarray(image.convert("L")) < 128
        full_rows = np.flatnonzero(dark.all(axis=1))
        assert len(full_rows) and all(row < 10 or row >= 38 for row in full_rows)


def test_intruders_stay_in_the_margins():
    neighbour = Image.new("L", (260, 30), 0)
    ImageDraw.Draw(neighbour).rectangle((10, 4, 240, 24), fill=255)
    edges = set()
    for seed in range(10):
        image = Image.new("RGB", (200, 48), PAPER)
        paste_intruder(image, (10, 12, 190, 36), neighbour, INK, random.Random(seed))
        rows = np.flatnonzero((np.asarray(image.convert("L")) < 128).any(axis=1))
        assert len(rows) and (rows.max() < 12 or rows.min() >= 36)
        edges.add("top" if rows.max() < 12 else "bottom")
    assert edges == {"top", "bottom"}
    with pytest.raises(ValueError, match="'L' ink coverage mask"):
        paste_intruder(Image.new("RGB", (200, 48)), (10, 12, 190, 36), neighbour.convert("RGB"), INK, random.Random(0))


def test_decorate_draws_nothing_when_every_probability_is_zero_and_calls_the_neighbour_lazily():
    calls = []

    def neighbour() -> Image.Image:
        calls.append(1)
        return Image.new("L", (100, 20), 255)

    image = _line()
    decorate(image, BAR, INK, random.Random(0), _all_off(), neighbour)
    assert image.tobytes() == _line().tobytes() and not calls
    decorate(image, BAR, INK, random.Random(0), _only("intruders"), neighbour)
    assert calls == [1] and image.tobytes() != _line().tobytes()


def test_binarize_leaves_only_ink_and_paper_with_the_ink_dark():
    line = _line()
    out = np.asarray(apply_effects(line, PAPER, random.Random(1), _only("binarize")))
    assert set(np.unique(out)) <= {0, 255}
    ink = np.asarray(line.convert("L")) < 100
    assert (out[ink] == 0).mean() > 0.9 and (out[~ink] == 255).mean() > 0.9


def test_speckle_scatters_ink_dots_over_blank_paper():
    paper = Image.new("RGB", (400, 40), PAPER)
    out = np.asarray(apply_effects(paper, PAPER, random.Random(3), _only("speckle")).convert("L"))
    assert 0 < (out < 128).sum() < out.size * 0.05


def test_an_effect_turned_off_draws_nothing_from_the_rng():
    rng = random.Random(5)
    apply_effects(_line(), PAPER, rng, _all_off())
    assert rng.random() == random.Random(5).random()
