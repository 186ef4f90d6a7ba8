"""Reports: ``thaiocr eval --report`` HTML pages and the ``curves.png`` that training draws."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from thaiocr.checkpoint import load_checkpoint
from thaiocr.cli import main
from thaiocr.evaluate import compare_lines
from thaiocr.report import (
    CURVES_SIZE,
    N_WORST,
    count_confusions,
    highlight_differences,
    length_bucket,
    write_training_curves,
)
from thaiocr.synth.fonts import family_of

DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def eval_with_report(capsys: pytest.CaptureFixture[str], model: Path, labels: Path, report: Path) -> dict:
    """Run ``thaiocr eval --json --report``; returns the metrics it printed."""
    capsys.readouterr()
    assert main(["eval", "--model", str(model), "--labels", str(labels), "--json", "--report", str(report)]) == 0
    out, err = capsys.readouterr()
    assert str(report) in err
    return json.loads(out)  # --report leaves the JSON on stdout untouched


def families_of_split(meta: Path) -> set[str]:
    rows = meta.read_text(encoding="utf-8").splitlines()[1:]
    return {family_of(row.split("\t")[1]) for row in rows}


# --- the HTML report ----------------------------------------------------------------------------


def test_the_report_of_the_tiny_run(tiny_run, tmp_path, capsys) -> None:
    report = tmp_path / "report.html"
    metrics = eval_with_report(capsys, tiny_run.best_model, tiny_run.val_labels, report)
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in page and "<style>" in page
    assert f"<b>{metrics['n']}</b>lines" in page
    for shown in (f"{metrics['line_acc']:.2%}", f"{metrics['cer']:.2%}", f"{metrics['ned']:.4f}"):
        assert shown in page
    for family in families_of_split(tiny_run.data_dir / "rec_meta_val.tsv"):
        assert f"<td>{family}</td>" in page
    wrong = metrics["n"] - round(metrics["line_acc"] * metrics["n"])
    images = DATA_URI.findall(page)
    assert len(images) == min(wrong, N_WORST)
    if images:
        with Image.open(io.BytesIO(base64.b64decode(images[0]))) as image:
            assert image.format == "PNG" and image.height <= 64


def test_the_report_escapes_labels_and_paths(tiny_run, tmp_path, capsys) -> None:
    first = tiny_run.val_labels.read_text(encoding="utf-8").splitlines()[0].split("\t")[0]
    shutil.copy(tiny_run.data_dir / first, tmp_path / "a&b.png")
    labels = tmp_path / "labels.txt"
    labels.write_text("a&b.png\t1<2\na&b.png\tx&y\n", encoding="utf-8")
    report = tmp_path / "report.html"
    eval_with_report(capsys, tiny_run.best_model, labels, report)  # the digits model reads neither < nor &
    page = report.read_text(encoding="utf-8")
    assert "a&amp;b.png" in page and "a&b" not in page
    assert "&lt;" in page and "1<2" not in page and "x&y" not in page
    assert "By font family" not in page  # no rec_meta_*.tsv beside these labels
    assert len(DATA_URI.findall(page)) == 2


# --- what the report counts ---------------------------------------------------------------------


def test_confusions_count_substitutions_deletions_and_insertions() -> None:
    truths = ["123", "๑๒๓", "45", "777", "ab"]
    predictions = ["128", "๑๓", "4x5", "71", "ab"]
    confusions = count_confusions(compare_lines(predictions, truths))
    assert confusions.substitutions == {("3", "8"): 1, ("7", "1"): 1}
    assert confusions.deletions == {"๒": 1, "7": 1}
    assert confusions.insertions == {"x": 1}


def test_differences_are_marked_whole_clusters_and_escaped() -> None:
    assert highlight_differences("12<3", "1283") == ("12<mark>&lt;</mark>3", "12<mark>8</mark>3")
    assert highlight_differences("12", "152") == ("12", "1<mark>5</mark>2")
    # Only the tone mark differs, but it is marked together with the consonant it sits on.
    assert highlight_differences("ก่า", "ก้า") == ("<mark>ก่</mark>า", "<mark>ก้</mark>า")


@pytest.mark.parametrize(("length", "bucket"), [(0, "≤5"), (5, "≤5"), (6, "6–10"), (40, "21–40"), (41, "41+")])
def test_length_buckets(length: int, bucket: str) -> None:
    assert length_bucket(length) == bucket


# --- training curves ----------------------------------------------------------------------------


def test_training_draws_curves_and_keeps_the_loss_it_plots(tiny_run) -> None:
    with Image.open(tiny_run.run_dir / "curves.png") as image:
        assert image.format == "PNG" and image.size == CURVES_SIZE
    losses = load_checkpoint(tiny_run.run_dir / "latest.pt")["state"]["losses"]
    total = tiny_run.epochs * tiny_run.steps_per_epoch
    assert [step for step, _ in losses] == list(range(2, total + 1, 2))  # tiny_test.yml: print_batch_step 2
    assert all(loss > 0 for _, loss in losses)


@pytest.mark.parametrize(
    ("history", "losses"),
    [
        ([], []),
        ([], [(2, 31.5)]),
        ([{"step": 4, "line_acc": 0.25, "cer": 1.7}], [(2, 31.5)]),
        ([{"step": 1, "line_acc": 1.0, "cer": 0.0}], [(1, 0.0), (2, float("nan"))]),
    ],
    ids=["nothing", "one loss, no evaluation", "one point each", "zero and nan losses"],
)
def test_curves_cope_with_few_points(tmp_path, history, losses) -> None:
    path = write_training_curves(tmp_path / "curves.png", history, losses)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == CURVES_SIZE
