"""The demo's summary names its model from the folder the user ran it in."""

from pathlib import Path

from thaiocr.demo import from_here


def test_a_model_below_the_current_folder_is_shown_relative(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    shown = Path("models/numbers/best_model/inference.onnx")
    assert from_here(tmp_path / shown) == shown
    assert from_here(shown) == shown


def test_a_model_elsewhere_is_shown_as_given(monkeypatch, tmp_path):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    elsewhere = tmp_path / "there" / "inference.onnx"
    assert from_here(elsewhere) == elsewhere
