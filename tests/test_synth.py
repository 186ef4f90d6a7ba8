import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thaiocr.charset import Charset, builtin_dict_chars, normalize_text
from thaiocr.errors import ThaiOCRError
from thaiocr.synth import lines as synth
from thaiocr.synth.effectsettings import DEFAULT_EFFECTS
from thaiocr.synth.fonts import FontInfo, font_covers
from thaiocr.synth.lines import choose_val_families, choose_val_fonts, generate_dataset
from thaiocr.synth.pngfile import encode_png

DIGIT_CHARS = set(builtin_dict_chars("digits"))

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
    assert names == {f.name for f in fonts if f.family == "NotoSerifThai"}
    assert {"NotoSerifThai-Regular", "NotoSerifThai-Bold"} <= names


def test_val_font_choices_that_cannot_work_are_errors(fonts):
    n_families = len(families_of(fonts))
    for count in (n_families, n_families - 1 + len(synth.TRAIN_ONLY_FAMILIES), -1):
        with pytest.raises(ThaiOCRError, match="training needs"):
            choose_val_families(fonts, count)
    with pytest.raises(ThaiOCRError, match="training needs"):
        choose_val_families(fonts, sorted(families_of(fonts)))
    with pytest.raises(ThaiOCRError, match="available families"):
        choose_val_fonts(fonts, ["NoSuchFont"])


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
    assert manifest["source"] == "numbers" and manifest["charset"] is None


@pytest.mark.parametrize("split", synth.SPLITS)
def test_every_image_font_covers_its_label(datasets, fonts, split):
    by_name = {font.name: font for font in fonts}
    meta = (datasets[1] / f"rec_meta_{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    labels = dict(label_rows(datasets[1], split))
    for line in meta:
        path, font, kind = line.split("\t")
        assert kind == "numbers"  # the source part that made the text
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


def test_a_dataset_is_current_only_for_its_version_settings_and_fonts(fonts, tmp_path, monkeypatch):
    chosen = [f for f in fonts if f.family in ("Garuda", "Loma")]
    assert not synth.dataset_is_current(tmp_path, chosen, seed=1)  # nothing written yet
    generate_dataset(tmp_path, 2, 1, seed=1, val_fonts=["Loma"], workers=1, fonts=chosen, progress=False)
    assert synth.dataset_is_current(tmp_path, chosen, seed=1, n_train=2, source="numbers", height=32,
                                    effects=DEFAULT_EFFECTS.to_dict())  # its tuples against the manifest's lists
    assert not synth.dataset_is_current(tmp_path, chosen, seed=2)
    assert not synth.dataset_is_current(tmp_path, chosen, seed=1, height=48)
    assert not synth.dataset_is_current(tmp_path, chosen[:-1], seed=1)
    grown = FontInfo(chosen[0].path, chosen[0].name, chosen[0].chars | {"\u2603"})
    assert not synth.dataset_is_current(tmp_path, [grown, *chosen[1:]], seed=1)
    monkeypatch.setattr(synth, "SYNTH_VERSION", synth.SYNTH_VERSION + 1)
    assert not synth.dataset_is_current(tmp_path, chosen, seed=1)


def test_a_mixed_source_keeps_to_the_dict_and_length_and_records_its_parts(fonts, tmp_path):
    charset = Charset.builtin("thai_full")
    manifest = generate_dataset(tmp_path, 24, 4, seed=3, workers=1, fonts=fonts, progress=False,
                                source={"words": 1, "mixed": 1}, charset=charset, max_length=20, height=24)
    assert manifest["source"] == {"words": 1, "mixed": 1} and manifest["max_length"] == 20
    rows = label_rows(tmp_path, "train")
    assert all(len(text) <= 20 and not charset.unknown_chars(text) for _, text in rows)
    kinds = {line.split("\t")[2] for line in (tmp_path / "rec_meta_train.tsv").read_text().splitlines()[1:]}
    assert kinds <= {"words", "mixed"}


def test_the_preview_sheet_has_one_row_per_line(fonts, tmp_path):
    path = synth.write_preview(tmp_path / "sheet.png", 3, fonts=fonts, source="words", seed=1)
    with Image.open(path) as sheet:
        assert sheet.size == (synth.PREVIEW_IMAGE_WIDTH + synth.PREVIEW_CAPTION_WIDTH, 3 * synth.PREVIEW_ROW_HEIGHT)
    texts = [text for _, text, _ in synth.render_samples(3, fonts=fonts, source="words", seed=1)]
    assert len(set(texts)) == 3


def test_synth_fonts_lists_every_font_with_its_split_and_coverage(fonts, capsys):
    from thaiocr.cli import main

    assert main(["synth", "fonts", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == {font.name for font in fonts}
    assert rows["Laksaman"]["split"] == "val" and rows["Garuda"]["split"] == "train"
    assert rows["Garuda"]["thai"] == 87 and rows["Garuda"]["dict_covered"] == rows["Garuda"]["dict_size"]
    assert rows["NotoSansThai-Regular"]["ascii"] < 94 and "A" in rows["NotoSansThai-Regular"]["missing"]
    assert rows["TlwgMono"]["note"]


def test_synth_preview_from_the_command_line(fonts, tmp_path, capsys):
    from thaiocr.cli import main

    out = tmp_path / "sheet.png"
    assert main(["-q", "synth", "--preview", "2", "--preview-out", str(out), "--source", "phrases",
                 "--dict", "thai_full"]) == 0
    assert out.exists() and "contact sheet of 2" in capsys.readouterr().out


@pytest.mark.parametrize("image_format", ["png", "jpg"])
def test_synth_writes_a_dataset_from_the_command_line(fonts, tmp_path, capsys, image_format):
    from thaiocr.cli import main

    out = tmp_path / "lines"
    assert main(["-q", "synth", "--out", str(out), "--train", "3", "--val", "2", "--workers", "1",
                 "--format", image_format, "--source", "words", "--dict", "thai_full"]) == 0
    assert "Wrote 3 training and 2 validation lines" in capsys.readouterr().out
    paths = [line.split("\t")[0] for line in (out / "rec_gt_train.txt").read_text(encoding="utf-8").splitlines()]
    assert len(paths) == 3 and all(path.endswith(f".{image_format}") and (out / path).is_file() for path in paths)


def test_the_font_picker_offers_exactly_the_fonts_that_cover_a_text(fonts):
    picker = synth.FontPicker(fonts)
    for text in ["กี่ 12", "081-234", "๐๘๑", "Hello ๑", "ฦๅ", "\u0e40\u0e01\u0e49"]:
        families, faces = picker._families_of(picker._mask(text))
        offered = {font.name for family in families for font in faces[family]}
        assert offered == {font.name for font in fonts if font_covers(font, text)}, text
    assert "TlwgMono" not in {f.name for fs in picker._families_of(picker._mask("กี่"))[1].values() for f in fs}


def test_jpeg_output_replaces_a_png_dataset_in_the_same_folder(fonts, tmp_path):
    generate_dataset(tmp_path, 3, 1, seed=1, workers=1, fonts=fonts, progress=False)
    manifest = generate_dataset(tmp_path, 3, 1, seed=1, workers=1, fonts=fonts, progress=False, image_format="jpg")
    assert manifest["image_format"] == "jpg"
    rows = label_rows(tmp_path, "train")
    assert all(path.endswith(".jpg") and (tmp_path / path).exists() for path, _ in rows)
    assert not list((tmp_path / "thai_data").rglob("*.png"))
    with pytest.raises(ThaiOCRError, match="image format"):
        generate_dataset(tmp_path, 1, 0, workers=1, fonts=fonts, progress=False, image_format="gif")


def test_written_pngs_hold_exactly_the_rendered_lines(datasets, fonts):
    samples = synth.render_samples(5, seed=7, split="train", fonts=fonts)
    for index, (image, text, _) in enumerate(samples, start=1):
        with Image.open(datasets[1] / f"thai_data/train/{index:06d}.png") as written:
            assert written.mode == "RGB" and written.tobytes() == image.tobytes(), text


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (48, 301, 3), (1, 7, 3)])
def test_the_png_encoder_round_trips_grey_and_rgb(shape):
    pixels = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    pixels[: shape[0] // 2] = 200  # flat rows as well as noise
    with Image.open(io.BytesIO(encode_png(pixels))) as decoded:
        assert decoded.mode == ("L" if len(shape) == 2 else "RGB")
        assert (np.asarray(decoded) == pixels).all()
    with pytest.raises(ValueError, match="uint8"):
        encode_png(pixels.astype(np.float32))
