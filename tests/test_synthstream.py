import json
from pathlib import Path

import numpy as np
import pytest

from thaiocr.charset import Charset
from thaiocr.cli import main
from thaiocr.config import ConfigError, load_config
from thaiocr.preprocess import Preprocess
from thaiocr.synth.lines import fonts_by_split
from thaiocr.synth.looks import build_looks
from thaiocr.synthstream import MixedDataset, SynthDataset, build_synth_split

DIGITS = Charset.builtin("digits")
PRE = Preprocess(32, 96)


def stream(fonts, split="train", count=6, seed=0) -> SynthDataset:
    by_split, _ = fonts_by_split(fonts, 3)
    looks = build_looks(None, by_split[split], "numbers", None, DIGITS, 25, "synth")
    return SynthDataset(looks, count, seed, split, PRE)


def test_a_sample_is_the_same_for_the_same_epoch_and_new_in_the_next(fonts):
    one, two = stream(fonts), stream(fonts)
    image, text = one[3]
    again, same_text = two[3]
    assert text == same_text and np.array_equal(image, again)
    assert image.dtype == np.uint8 and image.shape[0] == 32 and image.shape[2] == 3
    texts_epoch0 = [one[i][1] for i in range(len(one))]
    one.epoch = 1
    assert [one[i][1] for i in range(len(one))] != texts_epoch0


def test_labels_fit_the_alphabet_and_length(fonts):
    by_split, _ = fonts_by_split(fonts, 3)
    data = SynthDataset(build_looks(None, by_split["train"], "numbers", None, DIGITS, 8, "synth"), 40, 0, "train", PRE)
    for i in range(len(data)):
        _, text = data[i]
        assert len(text) <= 8 and not DIGITS.unknown_chars(text)


def test_out_of_range_index_is_an_index_error(fonts):
    with pytest.raises(IndexError):
        stream(fonts, count=2)[2]


def test_preload_keeps_the_rendered_lines(fonts):
    data = stream(fonts, split="val", count=5)
    data.preload(progress=False)
    first = data[0]
    data.epoch = 4  # a preloaded (validation) set does not change
    assert data.preloaded and np.array_equal(data[0][0], first[0]) and data[0][1] == first[1]
    assert data.widths() == [image.shape[1] for image, _ in (data[i] for i in range(5))]


SYNTH_SPLITS = [
    "-o", "Train.dataset.name=SynthDataSet", "-o", "Train.dataset.label_file_list=[]",
    "-o", "Train.dataset.synth={samples_per_epoch: 24}",
    "-o", "Eval.dataset.name=SynthDataSet", "-o", "Eval.dataset.label_file_list=[]",
    "-o", "Eval.dataset.synth={samples_per_epoch: 8}",
]


def test_the_tiny_recipe_trains_on_rendered_lines_without_writing_data(tiny_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    argv = ["-q", "train", "-c", str(tiny_config), "-o", f"Global.save_model_dir={run_dir}", *SYNTH_SPLITS]
    assert main(argv) == 0
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {"run"}
    images = [p for p in tmp_path.rglob("*") if p.suffix in (".png", ".jpg")]
    assert images == [run_dir / "curves.png"]  # the training curves; no line image was written
    assert (run_dir / "best_model" / "inference.onnx").exists()
    saved = json.loads(json.dumps(load_config(run_dir / "config.yml").to_dict()))
    assert saved["Train"]["dataset"]["name"] == "SynthDataSet"


def test_label_files_are_mixed_in_after_the_rendered_lines(tiny_config, tiny_data):
    config = load_config(tiny_config, [
        "Train.dataset.name=SynthDataSet", f"Train.dataset.data_dir={tiny_data}",
        f"Train.dataset.label_file_list=[{tiny_data / 'rec_gt_train.txt'}]", "Train.dataset.ratio_list=[0.5]",
        "Train.dataset.synth={samples_per_epoch: 10}",
    ])
    mixed = build_synth_split(config.Train.dataset, "Train", DIGITS, 25, PRE, default_seed=0)
    assert isinstance(mixed, MixedDataset)
    assert len(mixed) == 10 + 32  # half of the 64 real lines
    real_texts = {line.split("\t")[1] for line in (tiny_data / "rec_gt_train.txt").read_text().splitlines()}
    assert mixed[len(mixed) - 1][1] in real_texts


def test_synth_settings_need_the_synthetic_dataset(tiny_config):
    with pytest.raises(ConfigError, match="SynthDataSet"):
        load_config(tiny_config, ["Train.dataset.synth={samples_per_epoch: 10}"])
    with pytest.raises(ConfigError, match="samples_per_epoch"):
        load_config(tiny_config, ["Train.dataset.name=SynthDataSet", "Train.dataset.synth={samples_per_epoch: 0}"])
    with pytest.raises(ConfigError, match="dataset.name must be one of"):
        load_config(tiny_config, ["Train.dataset.name=LMDBDataSet"])


def test_unknown_synth_key_suggests_the_right_one(tiny_config):
    with pytest.raises(ConfigError, match="did you mean 'samples_per_epoch'"):
        load_config(tiny_config, ["Train.dataset.name=SynthDataSet", "Train.dataset.synth={sample_per_epoch: 5}"])


def test_rendering_nothing_is_refused(tmp_path: Path, fonts):
    with pytest.raises(Exception, match="no fonts left"):
        build_looks(None, [], "numbers", None, DIGITS, 25, "Train.dataset.synth")


def test_the_synthetic_digits_recipe_trains_with_a_rendering_worker(tmp_path, monkeypatch):
    recipe = Path(__file__).resolve().parent.parent / "configs" / "rec" / "numbers_synth.yml"
    monkeypatch.chdir(tmp_path)
    argv = ["-q", "train", "-c", str(recipe), "-o", f"Global.save_model_dir={tmp_path / 'run'}",
            "-o", "Global.epoch_num=1", "-o", "Train.loader.batch_size_per_card=8",
            "-o", "Train.dataset.synth.samples_per_epoch=16", "-o", "Eval.dataset.synth.samples_per_epoch=8",
            "-o", "Global.eval_batch_step=[0, 2]"]
    assert main(argv) == 0
    assert (tmp_path / "run" / "best_model" / "inference.onnx").exists()
    assert {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()} == {"run"}


def test_the_general_thai_recipe_trains_a_step_on_rendered_lines(tmp_path, monkeypatch):
    recipe = Path(__file__).resolve().parent.parent / "configs" / "rec" / "thai_general.yml"
    monkeypatch.chdir(tmp_path)
    small = "[3, 48, 144]"
    argv = ["-q", "train", "-c", str(recipe), "-o", f"Global.save_model_dir={tmp_path / 'run'}",
            "-o", "Global.epoch_num=1", "-o", "Train.loader.batch_size_per_card=4", "-o", "Train.loader.num_workers=0",
            "-o", "Train.dataset.synth.samples_per_epoch=8", "-o", "Eval.dataset.synth.samples_per_epoch=4",
            "-o", f"Train.dataset.transforms.3.RecResizeImg.image_shape={small}",
            "-o", f"Eval.dataset.transforms.2.RecResizeImg.image_shape={small}",
            "-o", "Architecture.Backbone.width=4", "-o", "Architecture.Neck.hidden_size=8"]
    assert main(argv) == 0
    saved = load_config(tmp_path / "run" / "config.yml")
    assert saved.Global.character_dict_path == "thai_full" and saved.Global.max_text_length == 40
