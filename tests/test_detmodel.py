"""The DB detector: targets on hand-made quads, the loss, the model's shapes, label checks, and a tiny
detector trained a few steps on two small pages, resumed, exported and run through det/detector.py."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from conftest import REPO, font_named
from pagekit import small_page
from thaiocr.config import ConfigError
from thaiocr.det import detector as detect
from thaiocr.det.config import DetArchitectureConfig, load_det_config
from thaiocr.det.detector import DBDetector, db_input, exported_settings, load_detector, unclip
from thaiocr.det.labels import det_label_line
from thaiocr.det.model import DetMobileNetV3, build_det_model
from thaiocr.det.targets import (
    DetBox,
    TargetSettings,
    make_targets,
    normalize_bgr,
    random_crop,
    read_det_pages,
    shrink_distance,
)
from thaiocr.det.train import (
    check_det_parity,
    db_loss,
    load_det_checkpoint,
    ohem_bce,
)
from thaiocr.errors import ThaiOCRError
from thaiocr.synth.pages import LABEL_FILE

TINY_CONFIG = REPO / "configs" / "det" / "tiny_test.yml"
TINY_ARCH = DetArchitectureConfig(Backbone={"name": "MobileNetV3", "model_name": "small", "scale": 0.35},
                                  Neck={"name": "DBFPN", "out_channels": 16})


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread, as the recipes ask: on the shared 2-core machine two made these tests ~10x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _rect(left: float, top: float, right: float, bottom: float) -> np.ndarray:
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]], dtype=np.float32)


# --- targets ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(100, 20), (30, 30), (400, 16)])
def test_detect_py_unclip_undoes_the_shrink(size):
    width, height = size
    distance = shrink_distance(_rect(0, 0, width, height), 1.5)
    shrunk = _rect(distance, distance, width - distance, height - distance)
    np.testing.assert_allclose(unclip(shrunk, 1.5), _rect(0, 0, width, height), atol=1e-3)


def test_shrink_distance_of_a_long_line_is_three_tenths_of_its_height():
    # DB's A(1 - r^2)/L with r = 0.4 would be 0.42 of the height: unclip at 1.5 could not undo it.
    assert shrink_distance(_rect(0, 0, 2000, 20), 1.5) == pytest.approx(6.0, rel=0.01)


def test_targets_of_one_quad():
    box = _rect(20, 10, 140, 40)  # 120 x 30
    distance = shrink_distance(box, 1.5)
    targets = make_targets([DetBox(box)], (160, 60))
    rows = np.flatnonzero(targets.shrink.any(axis=1))
    columns = np.flatnonzero(targets.shrink.any(axis=0))
    # Pixel centres at least D - 0.5 inside every edge.
    assert rows[0] == np.ceil(10 + distance - 0.5) and rows[-1] == np.floor(40 - distance + 0.5)
    assert columns[0] == np.ceil(20 + distance - 0.5) and columns[-1] == np.floor(140 - distance + 0.5)
    assert targets.shrink_mask.min() == 1
    assert targets.threshold.min() == pytest.approx(0.3) and targets.threshold.max() == pytest.approx(0.7)
    assert targets.threshold[10, 80] == pytest.approx(0.7)  # on the top edge
    assert targets.threshold[25, 80] == pytest.approx(0.3)  # the middle: further than D from every edge
    inside_grown = targets.threshold_mask.astype(bool)
    assert inside_grown[int(10 - distance) + 1, 80] and not inside_grown[0, 80] and not inside_grown[25, 2]
    assert targets.threshold[~inside_grown].max() == pytest.approx(0.3)


def test_ignored_and_tiny_boxes_leave_the_loss():
    ignored, tiny = _rect(10, 10, 90, 30), _rect(10, 40, 60, 44)
    targets = make_targets([DetBox(ignored, ignore=True), DetBox(tiny)], (100, 50), TargetSettings(min_text_size=6))
    assert targets.shrink.max() == 0
    assert targets.shrink_mask[20, 50] == 0 and targets.shrink_mask[42, 30] == 0 and targets.shrink_mask[35, 50] == 1
    assert targets.threshold_mask.max() == 0


def test_a_box_reaching_past_the_image_is_cut_at_its_edge():
    targets = make_targets([DetBox(_rect(-50, 10, 60, 40))], (100, 60))
    assert targets.shrink[25, 0] == 1 and targets.shrink[25, 99] == 0


def test_random_crop_moves_the_boxes_with_the_page():
    page = Image.new("RGB", (800, 600), "white")
    ImageDraw.Draw(page).rectangle((300, 200, 499, 259), fill="black")
    crop, (box,) = random_crop(page, [DetBox(_rect(300, 200, 500, 260))], random.Random(3), (0.5, 0.7), (256, 256))
    assert crop.size == (256, 256)
    left, top = np.floor(box.polygon.min(0) + 2).astype(int)
    right, bottom = np.ceil(box.polygon.max(0) - 2).astype(int)
    grey = np.asarray(crop.convert("L"), dtype=np.float32)
    inside = grey[max(top, 0) : bottom, max(left, 0) : right]
    assert inside.size and inside.mean() < 30


def test_a_crop_larger_than_the_scaled_page_is_filled_with_the_page_colour():
    page = Image.new("RGB", (200, 100), (250, 240, 230))
    crop, _ = random_crop(page, [], random.Random(0), (0.5, 0.5), (128, 96))
    assert crop.size == (128, 96) and crop.getpixel((127, 95)) == (250, 240, 230)


def test_normalisation_matches_detect_py():
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    np.testing.assert_allclose(normalize_bgr(image), db_input(image, 960)[0], atol=1e-6)


# --- label files --------------------------------------------------------------------------------


def _labels(folder: Path, *rows: str) -> Path:
    Image.new("RGB", (120, 80), "white").save(folder / "page.png")
    path = folder / LABEL_FILE
    path.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


GOOD_ROW = 'page.png\t[{"transcription": "ก", "points": [[10, 10], [60, 10], [60, 30], [10, 30]]}]'


@pytest.mark.parametrize(("row", "message"), [
    ('page.png\t[{"transcription": "ก", "points": [[10, 10], [60, 10]', "not a det label line"),
    ('page.png\t[{"transcription": "ก", "points": [[10, 10], [130, 10], [130, 30], [10, 30]]}]',
     "box 1: points [[10, 10], [130, 10], [130, 30], [10, 30]] lie outside the 120x80 image"),
    ('page.png\t[{"transcription": "ก", "points": [[10, 10], [60, 10], [60, 30]]}]', "box 1: expected 4 points"),
    ('missing.png\t[]', "missing.png not found"),
])
def test_bad_label_lines_name_the_file_and_line(tmp_path, row, message):
    path = _labels(tmp_path, GOOD_ROW, "", row)
    with pytest.raises(ThaiOCRError, match=f"{LABEL_FILE}:3: .*{re.escape(message)}"):
        read_det_pages([path])


def test_good_label_lines_load_with_ignore_marks(tmp_path):
    ignored = GOOD_ROW.replace('"ก"', '"###"')
    (first,), (second,) = (page.boxes for page in read_det_pages([_labels(tmp_path, GOOD_ROW, ignored)]))
    assert not first.ignore and second.ignore
    np.testing.assert_array_equal(first.polygon, _rect(10, 10, 60, 30))


# --- model and loss -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["small", "large"])
def test_backbone_levels_are_at_strides_4_to_32(name):
    features = DetMobileNetV3(model_name=name, scale=0.35)(torch.zeros(1, 3, 64, 96))
    assert [f.shape[2:] for f in features] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_the_model_maps_images_to_a_probability_at_input_size():
    model = build_det_model(TINY_ARCH).eval()
    with torch.no_grad():
        prob = model(torch.randn(2, 3, 64, 96))
        maps = model.maps(torch.randn(1, 3, 32, 64))
    assert prob.shape == (2, 1, 64, 96) and prob.min() >= 0 and prob.max() <= 1
    assert maps.prob_logits.shape == maps.threshold.shape == maps.binary.shape == (1, 1, 32, 64)


def test_an_unknown_backbone_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="did you mean 'MobileNetV3'"):
        build_det_model(DetArchitectureConfig(Backbone={"name": "MobileNetV2"}))


def test_ohem_keeps_every_positive_and_three_times_as_many_hardest_negatives():
    logits = torch.tensor([[0.0, 4.0, 3.0, 2.0, 1.0, -5.0, -6.0]])
    target = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0]])
    per_pixel = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")[0]
    expected = (per_pixel[0] + per_pixel[1] + per_pixel[2] + per_pixel[3]) / 4
    assert float(ohem_bce(logits, target, torch.ones_like(target), 3.0)) == pytest.approx(float(expected), rel=1e-5)


def test_the_loss_is_finite_and_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    boxes = [DetBox(_rect(8, 8, 56, 20)), DetBox(_rect(8, 36, 40, 50))]
    targets = make_targets(boxes, (64, 64))
    images = torch.zeros(2, 3, 64, 64)
    images[:, :, 10:18, 10:54] = images[:, :, 38:48, 10:38] = 1.0
    batch = [torch.from_numpy(np.stack([m, m])) for m in
             (targets.shrink, targets.shrink_mask, targets.threshold, targets.threshold_mask)]
    model = build_det_model(TINY_ARCH)
    optimizer = torch.optim.Adam(model.parameters(), 0.01)
    losses = []
    for _ in range(6):
        loss, parts = db_loss(model.maps(images), batch, load_det_config(TINY_CONFIG).Loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)) and set(parts) == {"prob", "binary", "thresh"}
    assert losses[-1] < losses[0]


def test_det_recipes_are_checked():
    with pytest.raises(ConfigError, match="crop_size must be"):
        load_det_config(TINY_CONFIG, ["Train.dataset.crop_size=[250, 192]"])
    with pytest.raises(ConfigError, match="did you mean 'unclip_ratio'"):
        load_det_config(TINY_CONFIG, ["PostProcess.unclip_ration=2"])
    assert load_det_config(REPO / "configs" / "det" / "db_mobilenet.yml").PostProcess.unclip_ratio == 1.5


# --- a tiny detector end to end ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_pages(tmp_path_factory, fonts) -> Path:
    """Two small pages of three Thai lines each (one upside down), and their det label file."""
    folder = tmp_path_factory.mktemp("det_pages")
    rows = []
    for index, (font, turned) in enumerate([("Garuda", (False, True, False)), ("Loma", (False, False, False))]):
        image, boxes = small_page(font_named(fonts, font).path, turned)
        image.save(folder / f"{index}.png")
        rows.append(det_label_line(f"{index}.png", boxes))
    (folder / LABEL_FILE).write_text("".join(rows), encoding="utf-8")
    return folder


def _train_argv(pages: Path, run_dir: Path, *extra: str) -> list[str]:
    labels = pages / LABEL_FILE
    return ["-q", "det", "train", "-c", str(TINY_CONFIG), "-o", f"Global.save_model_dir={run_dir}",
            "-o", f"Train.dataset.label_file_list=[{labels}]", "-o", f"Eval.dataset.label_file_list=[{labels}]",
            *extra]


@pytest.fixture(scope="module")
def tiny_det_run(tiny_pages, tmp_path_factory) -> Path:
    from thaiocr.cli import main

    run_dir = tmp_path_factory.mktemp("det_run")
    assert main(_train_argv(tiny_pages, run_dir)) == 0
    return run_dir


def test_training_writes_the_run_folder(tiny_det_run):
    for name in ("config.yml", "latest.pt", "best_accuracy.pt", "best_model/inference.onnx", "best_model/config.yml"):
        assert (tiny_det_run / name).is_file(), name
    state = load_det_checkpoint(tiny_det_run / "latest.pt")["state"]
    assert state["global_step"] == 2 and [row["step"] for row in state["history"]] == [2]
    assert {"precision", "recall", "hmean"} <= set(state["history"][0])


def test_a_run_resumes_from_latest(tiny_det_run, tiny_pages, tmp_path, run_cli):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_det_run, run_dir)
    code, out, err = run_cli(*_train_argv(tiny_pages, run_dir, "-o", "Global.epoch_num=3"))
    assert code == 0 and "Resuming from" in err and "Finished 3 steps" in out
    state = load_det_checkpoint(run_dir / "latest.pt")["state"]
    assert state["global_step"] == 3 and [row["step"] for row in state["history"]] == [2, 3]


def test_the_export_runs_in_detect_py_like_the_model(tiny_det_run, tiny_pages):
    model = build_det_model(TINY_ARCH)
    model.load_state_dict(load_det_checkpoint(tiny_det_run / "best_accuracy.pt")["model"])
    onnx_path = tiny_det_run / "best_model" / "inference.onnx"
    batch = np.concatenate([db_input(Image.open(tiny_pages / "0.png").convert("RGB"), 320)] * 2)
    assert batch.shape == (2, 3, 192, 320)  # another batch size and shape than the export was traced with
    assert check_det_parity(model, onnx_path, batch) <= 1e-4
    detector = DBDetector.from_onnx(onnx_path, "tiny", num_threads=1)
    assert detector.probability_map(Image.open(tiny_pages / "1.png")).shape == (384, 640)
    assert isinstance(detector(Image.open(tiny_pages / "1.png")), list)


def test_det_export_writes_the_recipes_post_processing_into_the_model(tiny_det_run, tiny_pages, tmp_path, run_cli):
    code, out, _ = run_cli("-q", "det", "export", "-c", TINY_CONFIG, "-o", f"Global.save_model_dir={tiny_det_run}",
                           "-o", f"Eval.dataset.label_file_list=[{tiny_pages / LABEL_FILE}]",
                           "-o", "PostProcess.thresh=0.45", "--out", tmp_path / "tuned")
    assert code == 0 and "max |ONNX - PyTorch|" in out
    assert DBDetector.from_onnx(tmp_path / "tuned" / "inference.onnx", "tuned").settings.thresh == 0.45
    assert DBDetector.from_onnx(tiny_det_run / "best_model" / "inference.onnx", "trained").settings.thresh == 0.3


def test_a_recogniser_is_not_taken_for_a_detector():
    with pytest.raises(ThaiOCRError, match="m.onnx: not a text detector"):
        exported_settings('{"format": "thaiocr-onnx/1"}', Path("m.onnx"))


def test_the_thaiocr_db_backend_says_how_to_get_its_model(monkeypatch):
    monkeypatch.setattr(detect, "THAIOCR_DB_FILE", "no-such-detector.onnx")
    with pytest.raises(ThaiOCRError, match="thaiocr det train -c configs/det/db_mobilenet.yml"):
        load_detector("thaiocr-db")
