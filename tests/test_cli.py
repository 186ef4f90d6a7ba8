"""The command line, in-process through ``main(argv)``: eval, predict, export, data check, and bad input.

Bad input must end in a short message naming the file (and line) and exit code 2 (1 for the
findings of ``data check``), never in a traceback, and must never cost a run what it had written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import sharpened_checkpoint, val_images
from thaiocr.predict import Recognizer

HELP_SECONDS = 3.0  # generous: the check is that --help never waits for torch


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- eval, predict, export ----------------------------------------------------------------------


def test_eval_prints_the_metrics_as_json(tiny_run, run_cli) -> None:
    code, out, _ = run_cli("eval", "--model", tiny_run.best_model, "--labels", tiny_run.val_labels, "--json")
    assert code == 0
    metrics = json.loads(out)
    assert {"n", "line_acc", "cer", "ned"} <= metrics.keys()
    assert metrics["n"] == len(val_images(tiny_run.val_labels))
    assert 0.0 <= metrics["line_acc"] <= 1.0 and metrics["cer"] >= 0.0


def test_predict_prints_path_text_and_confidence(tiny_run, run_cli) -> None:
    images = val_images(tiny_run.val_labels, 3)
    code, out, _ = run_cli("predict", "--model", tiny_run.best_model / "inference.onnx", *images)
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == [str(p) for p in images]
    assert all(len(row) == 3 and 0.0 <= float(row[2]) <= 1.0 for row in rows)


def test_predict_read_once_reads_as_a_recognizer_that_reads_once(tiny_run, run_cli) -> None:
    images = val_images(tiny_run.val_labels, 6)
    once = Recognizer(tiny_run.best_model, reread=False)
    assert once.reread is None and Recognizer(tiny_run.best_model).reread is not None
    code, out, _ = run_cli("predict", "--model", tiny_run.best_model, "--read-once", *images)
    assert code == 0
    assert [line.split("\t")[1] for line in out.splitlines()] == [p.text for p in once(images)]


def test_predict_a_label_file_writes_one_line_per_label(tiny_run, run_cli, tmp_path) -> None:
    out_file = tmp_path / "predictions.tsv"
    code, out, _ = run_cli("predict", "--model", tiny_run.run_dir / "best_accuracy.pt",
                           "--labels", tiny_run.val_labels, "--out", out_file)
    n = len(val_images(tiny_run.val_labels))
    assert code == 0 and f"Wrote {n} predictions" in out
    lines = out_file.read_text(encoding="utf-8").splitlines()
    listed = [line.split("\t")[0] for line in tiny_run.val_labels.read_text(encoding="utf-8").splitlines()]
    assert [line.split("\t")[0] for line in lines] == listed  # as the label file has them


def test_export_writes_an_onnx_model_that_reads_as_pytorch_does(tiny_run, run_cli, tmp_path) -> None:
    checkpoint = sharpened_checkpoint(tiny_run.run_dir / "best_accuracy.pt", tmp_path / "sharp.pt")
    code, out, _ = run_cli("export", checkpoint, "--out", tmp_path / "exported")
    assert code == 0 and "max |ONNX - PyTorch|" in out
    assert {p.name for p in (tmp_path / "exported").iterdir()} >= {"inference.onnx", "dict.txt", "config.yml"}
    images = val_images(tiny_run.val_labels)
    from_torch = Recognizer.from_path(checkpoint)(images)
    from_onnx = Recognizer.from_path(tmp_path / "exported")(images)
    assert any(p.text for p in from_torch), "the check needs a model that reads something"
    assert [p.text for p in from_onnx] == [p.text for p in from_torch]
    assert [p.confidence for p in from_onnx] == pytest.approx([p.confidence for p in from_torch], abs=1e-4)


def test_the_trained_onnx_and_checkpoint_agree_on_the_val_set(tiny_run) -> None:
    images = val_images(tiny_run.val_labels)
    from_torch = Recognizer.from_path(tiny_run.run_dir / "best_accuracy.pt")(images)
    from_onnx = Recognizer.from_path(tiny_run.best_model)(images)
    assert [p.text for p in from_onnx] == [p.text for p in from_torch]


# --- data check ---------------------------------------------------------------------------------


def _good_split_args(data_dir: Path) -> list[str]:
    return [*_split_args(data_dir, data_dir / "rec_gt_train.txt", "Train"),
            *_split_args(data_dir, data_dir / "rec_gt_val.txt", "Eval")]


def test_data_check_on_good_data_reports_counts_and_coverage(tiny_run, tiny_config, run_cli) -> None:
    code, out, err = run_cli("data", "check", "-c", tiny_config, *_good_split_args(tiny_run.data_dir))
    assert code == 0 and "ready" in err
    assert "Train: 64 lines, 64 good samples, 0 problems" in out
    assert "Eval: 16 lines, 16 good samples, 0 problems" in out
    assert "alphabet coverage:" in out and "longest label:" in out


def test_the_guides_config_passes_data_check_with_path_overrides(guide_config, tiny_run, run_cli) -> None:
    code, out, _ = run_cli("data", "check", "-c", guide_config, "-o", "Global.character_dict_path=digits",
                           *_good_split_args(tiny_run.data_dir))
    assert code == 0 and "Train: 64 lines, 64 good samples" in out


# --- bad data -----------------------------------------------------------------------------------

GOOD_IMAGE = "good.png"
BAD_LINES: list[tuple[str, bytes, str]] = [
    ("missing_image", b"nothere.png\t12", "'nothere.png' not found"),
    ("corrupt_image", b"corrupt.png\t12", "'corrupt.png' cannot be read"),
    ("empty_label", b"good.png\t", "empty label"),
    ("unknown_chars", "good.png\t12x\u0e01".encode(), "outside the alphabet: 'x' (U+0078), 'ก' (U+0E01)"),
    ("too_long", b"good.png\t" + b"1" * 26, "26 code points, more than max_text_length 25"),
    ("bad_encoding", b"good.png\t1\xff2", "not UTF-8"),
    ("path_escapes", b"../outside.png\t1", "outside data_dir"),
]


@pytest.fixture
def bad_data(tiny_run, tmp_path) -> Path:
    """A data_dir with a good image, a corrupt one, and an image outside it."""
    folder = tmp_path / "data"
    folder.mkdir()
    image = val_images(tiny_run.val_labels, 1)[0]
    shutil.copyfile(image, folder / GOOD_IMAGE)
    shutil.copyfile(image, tmp_path / "outside.png")
    (folder / "corrupt.png").write_bytes(image.read_bytes()[:60])  # a PNG header and nothing after
    return folder


def _labels_with(data_dir: Path, bad_line: bytes) -> Path:
    labels = data_dir / "labels.txt"
    labels.write_bytes(b"good.png\t123\n" + bad_line + b"\ngood.png\t456\n")
    return labels


def _split_args(data_dir: Path, labels: Path, *splits: str) -> list[str]:
    """``-o`` arguments pointing ``splits`` (default: both) at one label file."""
    args = []
    for split in splits or ("Train", "Eval"):
        args += ["-o", f"{split}.dataset.data_dir={data_dir}", "-o", f"{split}.dataset.label_file_list=[{labels}]"]
    return args


@pytest.mark.parametrize(("kind", "line", "fragment"), BAD_LINES, ids=[case[0] for case in BAD_LINES])
def test_data_check_lists_each_bad_line_by_file_and_line(bad_data, tiny_config, run_cli, kind, line, fragment):
    labels = _labels_with(bad_data, line)
    code, out, err = run_cli("data", "check", "-c", tiny_config, *_split_args(bad_data, labels))
    assert code == 1 and "not ready" in err
    assert f"{labels}:2: " in out and fragment in out and kind in out


@pytest.mark.parametrize(("kind", "line", "fragment"), BAD_LINES, ids=[case[0] for case in BAD_LINES])
def test_train_with_strict_data_stops_with_the_summary(bad_data, tiny_config, run_cli, tmp_path, kind, line, fragment):
    labels = _labels_with(bad_data, line)
    run = tmp_path / "never"
    code, _, err = run_cli("-q", "train", "-c", tiny_config, *_split_args(bad_data, labels),
                           "-o", f"Global.save_model_dir={run}")
    assert code == 2
    assert err.startswith("thaiocr: error: Train: ")
    assert f"{labels}:2: " in err and fragment in err and "on_bad_data: skip" in err
    assert not run.exists(), "a run that never started must not create its folder"


def test_a_failed_run_loses_nothing_already_written(bad_data, copy_run, tiny_config, run_cli) -> None:
    run = copy_run()
    before = digests(run)
    labels = _labels_with(bad_data, b"nothere.png\t1")
    code, _, err = run_cli("-q", "train", "-c", tiny_config, *_split_args(bad_data, labels),
                           "-o", f"Global.save_model_dir={run}")
    assert code == 2 and "nothere.png" in err
    assert digests(run) == before


def test_resuming_with_another_alphabet_refuses_and_loses_nothing(tiny_run, copy_run, tiny_config, run_cli,
                                                                  tmp_path) -> None:
    run = copy_run()
    before = digests(run)
    bigger = tmp_path / "dict.txt"
    bigger.write_text((tiny_run.best_model / "dict.txt").read_text(encoding="utf-8") + "x\n", encoding="utf-8")
    d = tiny_run.data_dir
    code, _, err = run_cli("-q", "train", "-c", tiny_config, "-o", f"Global.character_dict_path={bigger}",
                           *_split_args(d, d / "rec_gt_train.txt"), "-o", f"Global.save_model_dir={run}")
    assert code == 2 and "different alphabet" in err and "--no-resume" in err
    assert digests(run) == before


def test_eval_on_a_label_file_with_a_missing_image_names_file_and_line(tiny_run, bad_data, run_cli) -> None:
    labels = _labels_with(bad_data, b"nothere.png\t1")
    code, _, err = run_cli("eval", "--model", tiny_run.best_model, "--labels", labels)
    assert code == 2 and f"{labels}:2: " in err and "nothere.png" in err


# --- bad recipes --------------------------------------------------------------------------------


def _edited_recipe(tiny_config: Path, folder: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of the tiny recipe with one line changed; returns it and the 1-based line number."""
    lines = tiny_config.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, start=1) if line.strip() == old)
    lines[number - 1] = lines[number - 1].replace(old, new)
    path = folder / "recipe.yml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, number


def test_malformed_yaml_names_file_and_line(tiny_config, run_cli, tmp_path) -> None:
    recipe, number = _edited_recipe(tiny_config, tmp_path, "epoch_num: 2", "epoch_num: [2")
    code, _, err = run_cli("data", "check", "-c", recipe)
    assert code == 2 and "malformed YAML" in err
    assert f"{recipe}:{number}:" in err or f"{recipe}:{number + 1}:" in err


def test_an_unknown_key_in_the_file_suggests_the_right_one(tiny_config, run_cli, tmp_path) -> None:
    recipe, _ = _edited_recipe(tiny_config, tmp_path, "epoch_num: 2", "epoch_nums: 2")
    code, _, err = run_cli("-q", "train", "-c", recipe)
    assert code == 2 and "'Global.epoch_nums'" in err and "did you mean 'epoch_num'?" in err


def test_an_unknown_key_in_an_override_suggests_the_right_one(tiny_config, run_cli) -> None:
    code, _, err = run_cli("data", "check", "-c", tiny_config, "-o", "Global.save_modle_dir=x")
    assert code == 2 and "did you mean 'save_model_dir'?" in err


def test_a_missing_recipe_is_named(run_cli, tmp_path) -> None:
    code, _, err = run_cli("-q", "train", "-c", tmp_path / "nope.yml")
    assert code == 2 and f"{tmp_path / 'nope.yml'}: config file not found" in err


# --- bad models and images ----------------------------------------------------------------------


def test_a_dict_that_does_not_match_the_model_is_refused(tiny_run, run_cli, tmp_path) -> None:
    model = Path(shutil.copytree(tiny_run.best_model, tmp_path / "model"))
    dict_txt = model / "dict.txt"
    dict_txt.write_text("".join(f"{ch}\n" for ch in "0123456789"), encoding="utf-8")
    code, _, err = run_cli("predict", "--model", model, *val_images(tiny_run.val_labels, 1))
    assert code == 2 and "model/dict mismatch" in err and str(dict_txt) in err


@pytest.mark.parametrize("name", ["nowhere", "nowhere.onnx", "nowhere.pt"])
def test_a_missing_model_is_named(tiny_run, run_cli, tmp_path, name) -> None:
    code, _, err = run_cli("predict", "--model", tmp_path / name, *val_images(tiny_run.val_labels, 1))
    assert code == 2 and str(tmp_path / name) in err and len(err.splitlines()) == 1


def test_a_missing_or_corrupt_image_is_named(tiny_run, bad_data, run_cli) -> None:
    cases = [(bad_data / "nothere.png", "not found"), (bad_data / "corrupt.png", "not a readable image")]
    for image, fragment in cases:
        code, _, err = run_cli("predict", "--model", tiny_run.best_model, image)
        assert code == 1 and str(image) in err and fragment in err


def test_exporting_something_that_is_not_a_checkpoint_is_refused(run_cli, tmp_path) -> None:
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"not a checkpoint")
    code, _, err = run_cli("export", fake, "--out", tmp_path / "out")
    assert code == 2 and str(fake) in err and not (tmp_path / "out").exists()


def test_predict_labels_without_out_says_what_is_missing(tiny_run, run_cli) -> None:
    code, _, err = run_cli("predict", "--model", tiny_run.best_model, "--labels", tiny_run.val_labels)
    assert code == 2 and "--out" in err


# --- --help -------------------------------------------------------------------------------------

NO_TORCH_PROBE = """
import sys
from thaiocr.cli import main
for argv in (["--help"], ["train", "--help"], ["predict", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print("torch imported:", "torch" in sys.modules, "onnxruntime imported:", "onnxruntime" in sys.modules)
"""


def test_help_does_not_import_torch() -> None:
    result = subprocess.run([sys.executable, "-c", NO_TORCH_PROBE], capture_output=True, text=True, check=True)
    assert "usage: thaiocr" in result.stdout
    assert result.stdout.splitlines()[-1] == "torch imported: False onnxruntime imported: False"


def test_help_answers_at_once() -> None:
    script = Path(sys.executable).with_name("thaiocr")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "thaiocr"]
    started = time.perf_counter()
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    assert "train" in result.stdout and "predict" in result.stdout
    assert elapsed < HELP_SECONDS, f"thaiocr --help took {elapsed:.2f} s"


# --- pipes --------------------------------------------------------------------------------------


def test_output_into_a_closed_pipe_ends_quietly(tmp_path) -> None:
    """``thaiocr ... | head``: the reader leaving early ends the command without a traceback."""
    labels = tmp_path / "labels.txt"
    labels.write_text("a.png\t1\n", encoding="utf-8")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write, as `head` may have
    try:
        result = subprocess.run([sys.executable, "-m", "thaiocr", "-q", "data", "stats", str(labels)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


def test_ocr_takes_the_detector_modules_default() -> None:
    from thaiocr.cli import build_parser
    from thaiocr.det.detector import DEFAULT_DETECTOR, DETECTORS

    args = build_parser().parse_args(["ocr", "page.png"])
    assert args.detector == DEFAULT_DETECTOR and {"ppocrv4", "ppocrv6"} <= set(DETECTORS)
