"""Dataset tools (``thaiocr data stats|split|merge|convert``) on tiny real files in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from thaiocr.charset import Charset
from thaiocr.datatools import (
    DataToolError,
    convert_dataset,
    dataset_stats,
    merge_datasets,
    split_labels,
)
from thaiocr.labelformats import text_from_filename

SARA_AM_SPLIT = "น\u0e4d\u0e32"  # nikhahit + sara aa: normalised to "นำ"
Run = Callable[..., tuple[int, str, str]]


# --- helpers ------------------------------------------------------------------------------------


def png(path: Path, width: int = 40, height: int = 16, shade: int = 255) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height), shade).save(path)
    return path


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def dataset(folder: Path, labels: list[str], name: str = "rec_gt_train.txt", shade: int = 255) -> Path:
    """A data folder with one PNG per label (``img/<i>.png``, all alike unless ``shade`` differs)."""
    lines = [f"img/{i}.png\t{label}" for i, label in enumerate(labels)]
    for i in range(len(labels)):
        png(folder / f"img/{i}.png", shade=shade)
    return write(folder / name, "".join(line + "\n" for line in lines))


def label_lines(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines()]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- stats --------------------------------------------------------------------------------------


def test_stats_reports_lengths_coverage_fonts_sizes_and_bad_images(tmp_path: Path) -> None:
    png(tmp_path / "a.png", 30, 16)
    png(tmp_path / "b.png", 50, 20)
    png(tmp_path / "c.png", 90, 32)
    write(tmp_path / "corrupt.png", b"not an image")
    labels = write(tmp_path / "rec_gt_train.txt", "a.png\t12\nb.png\t๑๒๓x\nc.png\t0123456789\n"
                                                  "gone.png\t1\ncorrupt.png\t2\nd.png\t\n")
    write(tmp_path / "rec_meta_train.tsv", "path\tfont\tkind\na.png\tLoma\tid\nb.png\tLoma\tid\nc.png\tGaruda\tid\n")
    stats = dataset_stats([labels], Charset.builtin("digits"), progress=False)
    assert stats.n_lines == 6 and len(stats.bad_lines) == 1 and "empty label" in str(stats.bad_lines[0])
    assert stats.length_histogram() == {"1-5": 4, "6-10": 1}
    coverage = stats.coverage()
    assert coverage["outside"] == {"x": 1} and "9" not in coverage["unseen"] and "๙" in coverage["unseen"]
    assert dict(stats.fonts) == {"Loma": 2, "Garuda": 1}
    assert stats.image_sizes() == {"width": {"min": 30, "median": 50, "max": 90},
                                   "height": {"min": 16, "median": 20, "max": 32}}
    assert [p.line for p in stats.missing_images] == [4] and [p.line for p in stats.unreadable_images] == [5]


def test_stats_histogram_keeps_empty_ranges(tmp_path: Path) -> None:
    labels = dataset(tmp_path, ["1", "1" * 12])
    assert dataset_stats([labels], progress=False).length_histogram() == {"1-5": 1, "6-10": 0, "11-15": 1}


def test_stats_cli_prints_json_and_text(tmp_path: Path, run_cli: Run) -> None:
    labels = dataset(tmp_path, ["12", "1x"])
    code, out, err = run_cli("-q", "data", "stats", labels, "--dict", "digits", "--json")
    stats = json.loads(out)
    assert code == 0 and err == ""
    assert stats["n_lines"] == 2 and stats["coverage"]["outside"] == {"x": 1} and stats["missing_images"] == 0
    code, out, _ = run_cli("-q", "data", "stats", labels, "--dict", "digits")
    assert code == 0 and "2 lines" in out and "seen outside the dict: 'x': 1" in out
    assert "image width: min 40, median 40, max 40" in out


def test_stats_space_needs_a_dict(tmp_path: Path, run_cli: Run) -> None:
    code, _, err = run_cli("data", "stats", dataset(tmp_path, ["1"]), "--space")
    assert code == 2 and "--dict" in err


# --- split --------------------------------------------------------------------------------------


def test_split_deals_every_line_once_keeping_paths_and_order(tmp_path: Path) -> None:
    labels = dataset(tmp_path, [str(i) for i in range(20)], name="all.txt")
    result = split_labels(labels, 0.25, seed=1, progress=False)
    train, val = label_lines(tmp_path / "rec_gt_train.txt"), label_lines(tmp_path / "rec_gt_val.txt")
    assert result.labels == {tmp_path / "rec_gt_train.txt": 15, tmp_path / "rec_gt_val.txt": 5}
    assert (len(train), len(val)) == (15, 5)
    assert sorted(train + val) == sorted(label_lines(labels))
    assert train == sorted(train, key=lambda row: int(row[1])) and val == sorted(val, key=lambda row: int(row[1]))


def test_split_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    labels = dataset(tmp_path / "data", [str(i) for i in range(50)], name="all.txt")
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        split_labels(labels, 0.2, seed=seed, out_dir=tmp_path / name, progress=False)
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b") != snapshot(tmp_path / "c")


def test_split_normalises_labels(tmp_path: Path) -> None:
    labels = dataset(tmp_path, [SARA_AM_SPLIT, "1", "2", "3"], name="all.txt")
    split_labels(labels, 0.5, seed=0, progress=False)
    texts = [t for name in ("rec_gt_train.txt", "rec_gt_val.txt") for _, t in label_lines(tmp_path / name)]
    assert "นำ" in texts and SARA_AM_SPLIT not in texts


def test_split_refuses_to_overwrite_without_force(tmp_path: Path, run_cli: Run) -> None:
    labels = dataset(tmp_path, [str(i) for i in range(10)], name="all.txt")
    write(tmp_path / "rec_gt_val.txt", "keep me\n")
    code, _, err = run_cli("-q", "data", "split", labels, "--val-fraction", "0.3", "--seed", "0")
    assert code == 2 and "rec_gt_val.txt" in err and "--force" in err
    assert (tmp_path / "rec_gt_val.txt").read_text() == "keep me\n" and not (tmp_path / "rec_gt_train.txt").exists()
    code, out, _ = run_cli("-q", "data", "split", labels, "--val-fraction", "0.3", "--seed", "0", "--force")
    assert code == 0 and "7 lines to" in out and len(label_lines(tmp_path / "rec_gt_val.txt")) == 3


@pytest.mark.parametrize(("n", "fraction", "fragment"), [(10, 0.0, "between 0 and 1"), (10, 1.5, "between 0 and 1"),
                                                         (2, 0.1, "both parts non-empty")])
def test_split_refuses_an_impossible_fraction(tmp_path: Path, n: int, fraction: float, fragment: str) -> None:
    labels = dataset(tmp_path, [str(i) for i in range(n)], name="all.txt")
    with pytest.raises(DataToolError, match=fragment):
        split_labels(labels, fraction, seed=0, progress=False)


# --- merge --------------------------------------------------------------------------------------


def test_merge_keeps_equal_paths_of_two_inputs_apart(tmp_path: Path) -> None:
    a = dataset(tmp_path / "a" / "data", ["1", "2"], shade=0)
    b = dataset(tmp_path / "b" / "data", ["3", "4"], shade=128)
    result = merge_datasets([a, b], tmp_path / "out", progress=False)
    out = tmp_path / "out"
    lines = label_lines(out / "rec_gt_train.txt")
    assert result.n_images == 4 and result.labels == {out / "rec_gt_train.txt": 4}
    assert [text for _, text in lines] == ["1", "2", "3", "4"]
    assert len({path for path, _ in lines}) == 4
    sources = [a.parent / "img/0.png", a.parent / "img/1.png", b.parent / "img/0.png", b.parent / "img/1.png"]
    assert [(out / path).read_bytes() for path, _ in lines] == [p.read_bytes() for p in sources]


def test_merge_numbers_clashing_folder_names_and_reads_a_repeated_input_once(tmp_path: Path) -> None:
    inputs = [dataset(tmp_path / name / "data", [name], shade=shade) for name, shade in (("a", 0), ("b", 9), ("c", 99))]
    result = merge_datasets([*inputs, inputs[0]], tmp_path / "out", progress=False)
    lines = label_lines(tmp_path / "out/rec_gt_train.txt")
    assert lines == [("sources/data/img/0.png", "a"), ("sources/data_2/img/0.png", "b"),
                     ("sources/data_3/img/0.png", "c")]
    assert result.duplicates == []


def test_merge_of_dataset_folders_keeps_train_and_val_apart(tmp_path: Path, run_cli: Run) -> None:
    for name, shade in (("a", 0), ("b", 200)):
        dataset(tmp_path / name, ["1", "2"], shade=shade)
        dataset(tmp_path / name, ["3"], name="rec_gt_val.txt", shade=shade)
    code, out, _ = run_cli("-q", "data", "merge", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "m")
    assert code == 0 and "4 lines to" in out and "2 lines to" in out
    assert [t for _, t in label_lines(tmp_path / "m/rec_gt_train.txt")] == ["1", "2", "1", "2"]
    assert [t for _, t in label_lines(tmp_path / "m/rec_gt_val.txt")] == ["3", "3"]


def test_merge_writes_a_duplicate_once_and_reports_it(tmp_path: Path) -> None:
    a = dataset(tmp_path / "a", ["1", "2"])  # img/0.png and img/1.png: the same bytes
    b = dataset(tmp_path / "b", ["1", "9"])
    result = merge_datasets([a, b], tmp_path / "out", progress=False)
    assert [t for _, t in label_lines(tmp_path / "out/rec_gt_train.txt")] == ["1", "2", "9"]
    assert len(result.duplicates) == 1 and f"{b}:1 repeats {a}:1 (left out)" in result.duplicates[0]
    assert "1 duplicate (same image bytes and label)" in result.summary()


def test_merge_reports_a_line_in_both_train_and_val(tmp_path: Path) -> None:
    train = dataset(tmp_path / "a", ["1"])
    val = dataset(tmp_path / "b", ["1"], name="rec_gt_val.txt")
    result = merge_datasets([train, val], tmp_path / "out", progress=False)
    assert len(label_lines(tmp_path / "out/rec_gt_val.txt")) == 1
    assert len(result.duplicates) == 1 and "different label files" in result.duplicates[0]


def test_merge_name_gathers_every_line_in_one_file(tmp_path: Path) -> None:
    train = dataset(tmp_path / "a", ["1"], shade=0)
    val = dataset(tmp_path / "a", ["2"], name="rec_gt_val.txt", shade=9)
    merge_datasets([train, val], tmp_path / "out", name="all.txt", progress=False)
    assert [t for _, t in label_lines(tmp_path / "out/all.txt")] == ["1", "2"]
    assert not (tmp_path / "out/rec_gt_train.txt").exists()


def test_merge_link_hard_links_images(tmp_path: Path) -> None:
    labels = dataset(tmp_path / "a", ["1"])
    merge_datasets([labels], tmp_path / "out", place="link", progress=False)
    (path, _), = label_lines(tmp_path / "out/rec_gt_train.txt")
    assert os.path.samefile(tmp_path / "out" / path, tmp_path / "a/img/0.png")


def test_merge_refuses_to_overwrite_and_loses_nothing(tmp_path: Path, run_cli: Run) -> None:
    labels = dataset(tmp_path / "a", ["1"])
    write(tmp_path / "out/rec_gt_train.txt", "old\n")
    before = snapshot(tmp_path / "out")
    code, _, err = run_cli("-q", "data", "merge", labels, "--out", tmp_path / "out")
    assert code == 2 and "--force" in err and snapshot(tmp_path / "out") == before
    assert run_cli("-q", "data", "merge", labels, "--out", tmp_path / "out", "--force")[0] == 0


def test_merge_of_a_folder_without_label_files_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataToolError, match="no rec_gt_"):
        merge_datasets([tmp_path / "empty"], tmp_path / "out", progress=False)


# --- convert ------------------------------------------------------------------------------------


def test_convert_csv_with_a_header_finds_columns_by_name(tmp_path: Path, run_cli: Run) -> None:
    png(tmp_path / "src/images/a.png")
    png(tmp_path / "src/images/b.png")
    csv_file = write(tmp_path / "src/labels.csv", f'text,id,filename\n"1,234",7,a.png\n{SARA_AM_SPLIT},8,b.png\n')
    code, out, _ = run_cli("-q", "data", "convert", csv_file, "--from", "csv", "--images", tmp_path / "src/images",
                           "--out", tmp_path / "out")
    assert code == 0 and "2 lines" in out
    lines = label_lines(tmp_path / "out/rec_gt_train.txt")
    assert lines == [("thai_data/train/a.png", "1,234"), ("thai_data/train/b.png", "นำ")]
    assert (tmp_path / "out/thai_data/train/b.png").read_bytes() == (tmp_path / "src/images/b.png").read_bytes()


def test_convert_csv_without_a_header(tmp_path: Path) -> None:
    png(tmp_path / "src/a.png")
    convert_dataset(write(tmp_path / "src/gt.csv", "a.png,12\n"), "csv", tmp_path / "out", progress=False)
    assert label_lines(tmp_path / "out/rec_gt_train.txt") == [("thai_data/train/a.png", "12")]


def test_convert_csv_without_a_header_refuses_unquoted_commas(tmp_path: Path) -> None:
    png(tmp_path / "src/a.png")
    with pytest.raises(DataToolError, match=r"gt.csv:1: expected 2 cells"):
        convert_dataset(write(tmp_path / "src/gt.csv", "a.png,1,234\n"), "csv", tmp_path / "out", progress=False)


def test_convert_jsonl(tmp_path: Path) -> None:
    png(tmp_path / "src/sub/a.png")
    source = write(tmp_path / "src/gt.jsonl", '{"file": "sub/a.png", "text": "สวัสดี"}\n\n')
    convert_dataset(source, "jsonl", tmp_path / "out", name="rec_gt_val.txt", progress=False)
    assert label_lines(tmp_path / "out/rec_gt_val.txt") == [("thai_data/val/sub/a.png", "สวัสดี")]
    assert (tmp_path / "out/thai_data/val/sub/a.png").is_file()


def test_convert_space_keeps_spaces_inside_the_text(tmp_path: Path) -> None:
    png(tmp_path / "src/a.png")
    convert_dataset(write(tmp_path / "src/gt.txt", "a.png  12 34\n"), "space", tmp_path / "out", progress=False)
    assert label_lines(tmp_path / "out/rec_gt_train.txt") == [("thai_data/train/a.png", "12 34")]


def test_convert_tesstrain_pairs(tmp_path: Path) -> None:
    png(tmp_path / "gt/line1.png")
    png(tmp_path / "gt/deep/line2.tif")
    write(tmp_path / "gt/line1.gt.txt", "๑๒๓\n")
    write(tmp_path / "gt/deep/line2.gt.txt", "abc\r\n")
    convert_dataset(tmp_path / "gt", "tesstrain", tmp_path / "out", progress=False)
    assert label_lines(tmp_path / "out/rec_gt_train.txt") == [("thai_data/train/deep/line2.tif", "abc"),
                                                             ("thai_data/train/line1.png", "๑๒๓")]


def test_convert_images_named_by_their_text(tmp_path: Path) -> None:
    for name in ("0812345678.png", "สวัสดี.jpg", "สวัสดี_3.jpg", "A_1_2.png"):
        png(tmp_path / "named" / name)
    convert_dataset(tmp_path / "named", "filename", tmp_path / "out", progress=False)
    texts = dict(label_lines(tmp_path / "out/rec_gt_train.txt"))
    assert texts == {"thai_data/train/0812345678.png": "0812345678", "thai_data/train/A_1_2.png": "A_1",
                     "thai_data/train/สวัสดี.jpg": "สวัสดี", "thai_data/train/สวัสดี_3.jpg": "สวัสดี"}


@pytest.mark.parametrize(("stem", "text"), [("12_3", "12"), ("12_x", "12_x"), ("_3", ""), ("a_b_10", "a_b")])
def test_text_from_filename_drops_only_a_trailing_counter(stem: str, text: str) -> None:
    assert text_from_filename(stem) == text


def test_convert_refuses_to_overwrite_an_image_without_force(tmp_path: Path) -> None:
    png(tmp_path / "src/a.png", shade=0)
    source = write(tmp_path / "src/gt.csv", "a.png,1\n")
    old = png(tmp_path / "out/thai_data/train/a.png", shade=255).read_bytes()
    with pytest.raises(DataToolError, match="exists already"):
        convert_dataset(source, "csv", tmp_path / "out", progress=False)
    assert (tmp_path / "out/thai_data/train/a.png").read_bytes() == old
    assert not (tmp_path / "out/rec_gt_train.txt").exists()


def test_convert_rejects_images_option_for_folder_formats(tmp_path: Path) -> None:
    png(tmp_path / "named/1.png")
    with pytest.raises(DataToolError, match="--images applies to"):
        convert_dataset(tmp_path / "named", "filename", tmp_path / "out", images=tmp_path, progress=False)


# --- bad input ----------------------------------------------------------------------------------


def bad_label_file(tmp_path: Path, line: str) -> Path:
    """A label file whose second line is ``line``; its first line is good."""
    png(tmp_path / "src/good.png")
    png(tmp_path / "outside.png")
    return write(tmp_path / "src/labels.txt", f"good.png\t1\n{line}\n")


BAD_LINES = {
    "missing image": ("gone.png\t1", "image 'gone.png' not found"),
    "empty label": ("good.png\t   ", "empty label"),
    "path escaping": ("../outside.png\t1", "leads outside"),
    "absolute path": ("/etc/passwd\t1", "is absolute"),
    "label with a tab": ("good.png\t1\t2", "tab or line break"),
    "no tab": ("good.png 1", "no delimiter '\\t' between"),
    "blank line": (" ", "no delimiter"),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
@pytest.mark.parametrize("command", ["split", "merge"])
def test_a_bad_line_stops_split_and_merge_naming_file_and_line(tmp_path: Path, run_cli: Run, case: str,
                                                               command: str) -> None:
    line, fragment = BAD_LINES[case]
    labels = bad_label_file(tmp_path, line)
    extra = ["--val-fraction", "0.5", "--seed", "0"] if command == "split" else ["--out", tmp_path / "out"]
    code, out, err = run_cli("-q", "data", command, labels, *extra)
    assert code == 2 and f"{labels}:2: " in err and fragment in err and "--skip-bad" in err
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["good.png", "labels.txt"]
    assert not (tmp_path / "out").exists()


def test_a_label_file_not_in_utf8_is_named_with_its_line(tmp_path: Path, run_cli: Run) -> None:
    png(tmp_path / "a.png")
    labels = write(tmp_path / "labels.txt", b"a.png\t1\na.png\t" + "ไทย".encode("tis-620") + b"\n")
    for argv in (["stats", labels], ["split", labels, "--val-fraction", "0.5", "--seed", "0"],
                 ["merge", labels, "--out", tmp_path / "out"], ["convert", labels, "--from", "space", "--out",
                                                               tmp_path / "out"]):
        code, _, err = run_cli("-q", "data", *argv)
        assert code == 2 and f"{labels}:2: label file is not UTF-8" in err, argv


def test_skip_bad_leaves_bad_lines_out_and_lists_them(tmp_path: Path, run_cli: Run) -> None:
    labels = bad_label_file(tmp_path, "gone.png\t1")
    code, out, _ = run_cli("-q", "data", "merge", labels, "--out", tmp_path / "out", "--skip-bad")
    assert code == 0 and "left out 1 bad line:" in out and f"{labels}:2: image 'gone.png' not found" in out
    assert [t for _, t in label_lines(tmp_path / "out/labels.txt")] == ["1"]


@pytest.mark.parametrize(("fmt", "name", "content", "fragment"), [
    ("csv", "gt.csv", "gone.png,1\n", "gt.csv:1: image 'gone.png' not found"),
    ("csv", "gt.csv", "a.png,\n", "gt.csv:1: empty label"),
    ("csv", "gt.csv", "../outside.png,1\n", "gt.csv:1: image path '../outside.png' leads outside"),
    ("csv", "gt.csv", 'a.png,"1\n2"\n', "gt.csv:2: label '1\\n2' holds a tab or line break"),
    ("jsonl", "gt.jsonl", '{"file": "a.png", "text": "1\\t2"}\n', "gt.jsonl:1: label '1\\t2' holds a tab"),
    ("jsonl", "gt.jsonl", '{"file": "a.png"}\n', 'gt.jsonl:1: expected an object with string "file" and "text"'),
    ("jsonl", "gt.jsonl", "{oops\n", "gt.jsonl:1: not JSON"),
    ("space", "gt.txt", "a.png\n", "gt.txt:1: no text after the file name"),
])
def test_convert_names_the_bad_line(tmp_path: Path, fmt: str, name: str, content: str, fragment: str) -> None:
    png(tmp_path / "src/a.png")
    png(tmp_path / "outside.png")
    with pytest.raises(DataToolError, match="1 bad line:") as info:
        convert_dataset(write(tmp_path / "src" / name, content), fmt, tmp_path / "out", progress=False)
    assert fragment in str(info.value)
    assert not (tmp_path / "out").exists()


def test_convert_tesstrain_bad_pairs(tmp_path: Path) -> None:
    png(tmp_path / "gt/two.png")
    write(tmp_path / "gt/two.gt.txt", "line one\nline two\n")
    write(tmp_path / "gt/lonely.gt.txt", "1\n")
    with pytest.raises(DataToolError) as info:
        convert_dataset(tmp_path / "gt", "tesstrain", tmp_path / "out", progress=False)
    message = str(info.value)
    assert "lonely.gt.txt: no image lonely.png" in message and "two.gt.txt:1: label 'line one\\nline two'" in message


def test_convert_unknown_format_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(DataToolError, match="csv, jsonl, space, tesstrain, filename"):
        convert_dataset(tmp_path, "xml", tmp_path / "out", progress=False)


# --- the command line ---------------------------------------------------------------------------


def test_progress_bars_show_unless_quiet(tmp_path: Path, run_cli: Run) -> None:
    labels = dataset(tmp_path / "a", ["1", "2"])
    _, _, err = run_cli("data", "merge", labels, "--out", tmp_path / "out")
    assert "writing images" in err
    _, _, err = run_cli("-q", "data", "merge", labels, "--out", tmp_path / "out2")
    assert err == ""


def test_data_help_lists_the_tools_without_importing_them() -> None:
    probe = ("import sys\nfrom thaiocr.cli import main\ntry:\n    main(['data', '--help'])\nexcept SystemExit:\n"
             "    pass\nprint('datatools imported:', 'thaiocr.datatools' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert all(name in result.stdout for name in ("stats", "split", "merge", "convert"))
    assert result.stdout.splitlines()[-1] == "datatools imported: False"
