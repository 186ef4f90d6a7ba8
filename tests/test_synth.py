import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from thaiocr import synth
from thaiocr.charset import ARABIC_DIGITS, THAI_DIGITS, builtin_dict_chars, normalize_text
from thaiocr.errors import ThaiOCRError
from thaiocr.synth import (
    FontInfo,
    choose_val_families,
    choose_val_fonts,
    discover_fonts,
    font_covers,
    generate_dataset,
    render_line,
)
from thaiocr.textsource import SAMPLE_KINDS

DIGIT_CHARS = set(builtin_dict_chars("digits"))
TO_ARABIC = str.maketrans(THAI_DIGITS, ARABIC_DIGITS)


@pytest.fixture(scope="module")
def fonts() -> list[FontInfo]:
    try:
        return discover_fonts()
    except ThaiOCRError as exc:
        pytest.skip(str(exc))


def font_named(fonts: list[FontInfo], name: str) -> FontInfo:
    return next(font for font in fonts if font.name == name)


# --- fonts --------------------------------------------------------------------------------------


def test_discovered_fonts_are_thai_sorted_and_leave_out_noto_looped(fonts):
    names = [font.name for font in fonts]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(font_covers(font, THAI_DIGITS) for font in fonts)
    assert not any(name.startswith("NotoLoopedThai") for name in names)
    assert discover_fonts() == fonts


def test_no_fonts_found_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "SYSTEM_FONT_DIR", tmp_path)
    with pytest.raises(ThaiOCRError, match="fonts-thai-tlwg fonts-noto-core"):
        discover_fonts()


def test_missing_extra_font_folder_is_an_error(tmp_path):
    with pytest.raises(ThaiOCRError, match="does not exist"):
        discover_fonts([tmp_path / "nowhere"])


def test_font_covers_counts_space_and_knows_noto_sans_thai_lacks_latin_digits():
    noto_like = FontInfo(Path("x.ttf"), "NotoSansThai-Regular", frozenset(THAI_DIGITS + "-"))
    assert font_covers(noto_like, "๐๘๑-๒๓๔ ๕๖๗๘")
    assert not font_covers(noto_like, "081")
    assert not font_covers(noto_like, "๑,๒๓๔")


def ink_columns(text: str, font: FontInfo) -> int:
    """Width of the inked columns of ``text`` drawn plainly with raqm at 40 px."""
    face = ImageFont.truetype(str(font.path), 40, layout_engine=ImageFont.Layout.RAQM)
    image = Image.new("L", (200, 80), 0)
    ImageDraw.Draw(image).text((20, 10), text, font=face, fill=255)
    left, _, right, _ = image.getbbox()
    return right - left


def test_fonts_said_to_cover_marks_place_them_over_their_base(fonts):
    # A mark drawn beside its base instead of over it doubles the cluster's width (TlwgMono: x2.3);
    # slanted faces legitimately shift marks right by up to ~1.45x.
    cluster = "\u0e01\u0e35\u0e48"  # ko kai + sara ii + mai ek
    coverers = [font for font in fonts if font_covers(font, cluster)]
    assert len(coverers) >= 40
    for font in coverers:
        assert ink_columns(cluster, font) <= 1.6 * ink_columns("\u0e01", font), font.name
    assert not font_covers(font_named(fonts, "TlwgMono"), cluster)
    assert font_covers(font_named(fonts, "TlwgMono"), "๐๑๒-345")


def families_of(fonts: list[FontInfo]) -> set[str]:
    return {font.family for font in fonts}


def test_preferred_val_families_are_installed_and_noto_sans_thai_stays_in_training(fonts):
    assert set(synth.PREFERRED_VAL_FAMILIES) <= families_of(fonts)
    assert set(synth.TRAIN_ONLY_FAMILIES) <= families_of(fonts)
    assert not set(synth.PREFERRED_VAL_FAMILIES) & set(synth.TRAIN_ONLY_FAMILIES)


def test_a_count_holds_out_every_face_of_the_preferred_then_sorted_families(fonts):
    assert choose_val_families(fonts, 3) == list(synth.PREFERRED_VAL_FAMILIES)
    faces = choose_val_fonts(fonts, 3)
    assert families_of(faces) == set(synth.PREFERRED_VAL_FAMILIES)
    assert faces == [f for fam in synth.PREFERRED_VAL_FAMILIES for f in fonts if f.family == fam]
    assert {"Laksaman-Bold", "TlwgTypewriter-Bold", "Sawasdee-Oblique"} <= {f.name for f in faces}
    five = choose_val_families(fonts, 5)
    others = sorted(families_of(fonts) - set(synth.PREFERRED_VAL_FAMILIES))
    assert five == [*synth.PREFERRED_VAL_FAMILIES, *others[:2]]
    assert choose_val_families(fonts, 0) == []


def test_the_largest_count_leaves_only_the_train_only_family(fonts):
    most = len(families_of(fonts)) - 1
    held_out = choose_val_families(fonts, most)
    assert families_of(fonts) - set(held_out) == set(synth.TRAIN_ONLY_FAMILIES)


def test_names_may_be_families_or_faces_and_a_face_holds_out_its_family(fonts):
    families = choose_val_families(fonts, ["Garuda-Bold", "Loma", "Garuda"])
    assert families == ["Garuda", "Loma"]
    names = {f.name for f in choose_val_fonts(fonts, "NotoSerifThai-Regular")}
    assert names == {"NotoSerifThai-Regular", "NotoSerifThai-Bold"}


def test_val_font_choices_that_cannot_work_are_errors(fonts):
    n_families = len(families_of(fonts))
    for count in (n_families, n_families - 1 + len(synth.TRAIN_ONLY_FAMILIES), -1):
        with pytest.raises(ThaiOCRError, match="training needs"):
            choose_val_families(fonts, count)
    with pytest.raises(ThaiOCRError, match="training needs"):
        choose_val_families(fonts, sorted(families_of(fonts)))
    with pytest.raises(ThaiOCRError, match="available families"):
        choose_val_fonts(fonts, ["NoSuchFont"])


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


def test_dark_text_on_light_background_has_dark_ink(fonts, monkeypatch):
    monkeypatch.setattr(synth, "INVERTED_PROBABILITY", 0.0)
    image = render_line("๐๘๑-๒๓๔-๕๖๗๘", font_named(fonts, "NotoSansThai-Regular"), random.Random(3))
    grey = np.asarray(image.convert("L"))
    assert np.median(grey) > 128 and (grey < 110).sum() > 50


@pytest.mark.parametrize("seed", range(6))
def test_render_height_is_about_one_to_two_model_heights(fonts, seed):
    image = render_line("1,234.50", font_named(fonts, "Loma"), random.Random(seed), height=32)
    assert 28 <= image.height <= 96


@pytest.mark.parametrize("text", ["กี่ปี", "๑,๒๓๔.๕๐", "ฎุ้ปั๋"])
def test_stacked_marks_and_descenders_are_never_cut_off(fonts, monkeypatch, text):
    monkeypatch.setattr(synth, "_apply_effects", lambda image, background, rng: image)
    monkeypatch.setattr(synth, "TIGHT_CROP_PROBABILITY", 1.0)
    for seed in range(5):
        rng = random.Random(seed)
        image = render_line(text, font_named(fonts, "Norasi"), rng)
        pixels = np.asarray(image)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert (border == pixels[0, 0]).all(), f"ink touches the edge for seed {seed}"


# --- datasets -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def datasets(fonts, tmp_path_factory) -> dict[int, Path]:
    """The same tiny dataset written by one process and by two."""
    out = {}
    for workers in (1, 2):
        out[workers] = tmp_path_factory.mktemp(f"synth_w{workers}")
        generate_dataset(out[workers], n_train=20, n_val=8, seed=7, workers=workers, fonts=fonts, progress=False)
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def label_rows(root: Path, split: str) -> list[tuple[str, str]]:
    lines = (root / f"rec_gt_{split}.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines]


def test_same_seed_gives_identical_bytes_whatever_the_workers(datasets):
    one, two = files_of(datasets[1]), files_of(datasets[2])
    assert len(one) == 1 + 2 * 2 + 20 + 8  # manifest, label and meta files per split, images
    assert one == two


@pytest.mark.parametrize("split", synth.SPLITS)
def test_label_lines_point_at_existing_images_with_normalised_digit_labels(datasets, split):
    root = datasets[1]
    rows = label_rows(root, split)
    assert len(rows) == {"train": 20, "val": 8}[split]
    for index, (path, label) in enumerate(rows, start=1):
        assert path == f"thai_data/{split}/{index:06d}.png"
        assert (root / path).is_file()
        assert label == normalize_text(label) and set(label) <= DIGIT_CHARS and label


def test_val_font_families_are_never_seen_in_training(datasets, fonts):
    manifest = json.loads((datasets[1] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["synth_version"] == synth.SYNTH_VERSION
    assert (manifest["seed"], manifest["n_train"], manifest["n_val"]) == (7, 20, 8)
    assert manifest["val_families"] == list(synth.PREFERRED_VAL_FAMILIES)
    assert manifest["val_fonts"] == [f.name for f in choose_val_fonts(fonts, 3)]
    by_name = {font.name: font for font in fonts}
    train_families = {by_name[name].family for name in manifest["train_fonts"]}
    val_families = {by_name[name].family for name in manifest["val_fonts"]}
    assert val_families == set(manifest["val_families"])
    assert not train_families & val_families
    assert sorted(manifest["train_fonts"] + manifest["val_fonts"]) == sorted(by_name)
    assert set(manifest["font_usage"]["val"]) <= set(manifest["val_fonts"])
    assert set(manifest["font_usage"]["train"]) <= set(manifest["train_fonts"])
    assert manifest["sample_kinds"] == list(SAMPLE_KINDS)


@pytest.mark.parametrize("split", synth.SPLITS)
def test_every_image_font_covers_its_label(datasets, fonts, split):
    by_name = {font.name: font for font in fonts}
    meta = (datasets[1] / f"rec_meta_{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    labels = dict(label_rows(datasets[1], split))
    for line in meta:
        path, font, kind = line.split("\t")
        assert kind in SAMPLE_KINDS
        assert font_covers(by_name[font], labels[path]), (path, font, labels[path])


def test_rerun_into_the_same_folder_overwrites_and_drops_stale_images(fonts, tmp_path):
    names = ["Garuda", "NotoSerifThai-Regular"]
    generate_dataset(tmp_path, 6, 3, seed=1, val_fonts=names, workers=1, fonts=fonts, progress=False)
    manifest = generate_dataset(tmp_path, 4, 2, seed=2, val_fonts=names, workers=1, fonts=fonts, progress=False)
    assert manifest["val_families"] == ["Garuda", "NotoSerifThai"]
    assert manifest["val_fonts"] == [f.name for f in fonts if f.family in ("Garuda", "NotoSerifThai")]
    assert len(list((tmp_path / "thai_data" / "train").iterdir())) == 4
    assert len(list((tmp_path / "thai_data" / "val").iterdir())) == 2
    assert len(label_rows(tmp_path, "train")) == 4
    assert not list(tmp_path.glob(".*.tmp"))
