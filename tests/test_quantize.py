"""``thaiocr export --int8``: int8 convolutions calibrated on the recipe's training lines, described in
the file's metadata, read by every reader as a float32 export is; bad requests lose nothing."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import onnx
import pytest

from conftest import TINY_CONFIG, data_overrides, sharpened_checkpoint, val_images
from thaiocr.errors import ThaiOCRError
from thaiocr.modeldescription import ModelDescription
from thaiocr.predict import Recognizer
from thaiocr.quantize import quantize_export


def description(path: Path) -> ModelDescription:
    props = {prop.key: prop.value for prop in onnx.load(str(path)).metadata_props}
    return ModelDescription.from_onnx_metadata(props, path)


@pytest.fixture(scope="module")
def int8_export(tiny_run, tmp_path_factory) -> tuple[Path, Path, str]:
    """(float32 checkpoint, int8 export folder, what the command printed)."""
    from thaiocr.cli import main

    folder = tmp_path_factory.mktemp("int8")
    checkpoint = sharpened_checkpoint(tiny_run.run_dir / "best_accuracy.pt", folder / "sharp.pt")
    argv = ["export", str(checkpoint), "--out", str(folder / "exported"), "--int8", "-c", str(TINY_CONFIG),
            *data_overrides(tiny_run.data_dir), "--calibration-lines", "32"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    return checkpoint, folder / "exported", printed.getvalue()


def test_an_int8_export_says_how_it_was_made_and_how_close_it_reads(int8_export) -> None:
    _, folder, printed = int8_export
    quantization = description(folder / "inference.onnx").quantization
    assert quantization is not None and quantization["calibration_lines"] == 32
    assert "Conv" in quantization["operators"]
    ops = {node.op_type for node in onnx.load(str(folder / "inference.onnx")).graph.node}
    assert "QLinearConv" in ops and "Conv" in ops  # the first convolution stays float32
    assert Recognizer.from_path(folder).quantization == quantization
    agreement = float(re.search(r"agrees with float32 at ([\d.]+)%", printed).group(1))
    assert 90.0 <= agreement <= 100.0


def test_an_int8_export_reads_lines_as_its_float32_checkpoint_does(int8_export, tiny_run) -> None:
    checkpoint, folder, _ = int8_export
    images = val_images(tiny_run.val_labels)
    from_torch = [p.text for p in Recognizer.from_path(checkpoint)(images)]
    from_int8 = [p.text for p in Recognizer.from_path(folder)(images)]
    assert any(from_torch), "the check needs a model that reads something"
    same = sum(a == b for a, b in zip(from_int8, from_torch, strict=True))
    assert same >= 0.75 * len(images)


def test_quantizing_an_int8_export_again_is_refused_and_changes_nothing(int8_export) -> None:
    _, folder, _ = int8_export
    path = folder / "inference.onnx"
    before = path.read_bytes()
    with pytest.raises(ThaiOCRError, match="already quantized"):
        quantize_export(path, [])
    assert path.read_bytes() == before


def test_int8_without_the_recipe_is_refused_before_anything_is_written(tiny_run, run_cli, tmp_path) -> None:
    code, _, err = run_cli("export", tiny_run.run_dir / "best_accuracy.pt", "--out", tmp_path / "out", "--int8")
    assert code == 2 and "-c RECIPE" in err and not (tmp_path / "out").exists()


def test_int8_with_more_calibration_lines_than_the_recipe_has_says_so(tiny_run, run_cli, tmp_path) -> None:
    code, _, err = run_cli("export", tiny_run.run_dir / "best_accuracy.pt", "--out", tmp_path / "out", "--int8",
                           "-c", TINY_CONFIG, *data_overrides(tiny_run.data_dir), "--calibration-lines", "64")
    assert code == 2 and "too few" in err and str(TINY_CONFIG) in err
    assert description(tmp_path / "out" / "inference.onnx").quantization is None  # the float32 export stays
