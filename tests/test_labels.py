"""The one reader and judge of PaddleOCR label files (``thaiocr.labels``), on tiny files in tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thaiocr.labels import DataFolder, Issue, LabelFileError, Problem, label_issue, read_lines, split_line


def test_read_lines_numbers_non_empty_lines_and_strips_only_line_endings(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xef\xbb\xbfa.png\t1 \r\n\n  \nb.png\t2")
    assert read_lines(labels) == [(1, "a.png\t1 "), (3, "  "), (4, "b.png\t2")]


def test_a_file_not_in_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"a.png\t1\n" + "b.png\tไทย".encode("tis-620") + b"\n")
    with pytest.raises(LabelFileError) as caught:
        read_lines(labels)
    assert (caught.value.problem.kind, caught.value.problem.line) == ("bad_encoding", 2)
    assert str(caught.value).startswith(f"{labels}:2: label file is not UTF-8 (byte 0xe4")


def test_a_missing_file_is_a_problem_of_the_whole_file(tmp_path: Path) -> None:
    with pytest.raises(LabelFileError) as caught:
        read_lines(tmp_path / "gone.txt")
    assert caught.value.problem == Problem(tmp_path / "gone.txt", 0, "missing_label_file", "label file not found")


def test_a_line_splits_at_its_first_delimiter() -> None:
    assert split_line("a.png\t1 2") == ("a.png", "1 2")
    assert split_line("a.png\t1\t2") == ("a.png", "1\t2")
    assert split_line("a.png 1 2", " ") == ("a.png", "1 2")
    issue = split_line("a.png 1")
    assert isinstance(issue, Issue) and issue.kind == "no_delimiter" and "'\\t'" in issue.message


@pytest.mark.parametrize(("text", "kind"), [("", "empty_label"), (" \u3000", "empty_label"),
                                            ("1\t2", "tab_or_line_break"), ("1\r2", "tab_or_line_break")])
def test_label_issues(text: str, kind: str) -> None:
    issue = label_issue(text)
    assert issue is not None and issue.kind == kind


def test_a_label_with_inner_spaces_is_fine() -> None:
    assert label_issue(" 1 2 ") is None


@pytest.fixture
def folder(tmp_path: Path) -> DataFolder:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "a.png").write_bytes(b"")
    (tmp_path / "outside.png").write_bytes(b"")
    (data / "link.png").symlink_to(tmp_path / "outside.png")
    return DataFolder(data)


@pytest.mark.parametrize(("rel", "kind", "fragment"), [
    ("", "missing_image", "no image path"),
    ("/etc/passwd", "path_escapes", "is absolute"),
    ("../outside.png", "path_escapes", "leads outside data_dir"),
    ("sub/../../outside.png", "path_escapes", "leads outside data_dir"),
    ("link.png", "path_escapes", "outside.png"),
    ("sub/a\tb.png", "tab_or_line_break", "holds a tab"),
])
def test_image_paths_must_stay_in_the_data_folder(folder: DataFolder, rel: str, kind: str, fragment: str) -> None:
    for issue in (folder.path_issue(rel), folder.image_issue(rel)):
        assert issue is not None and issue.kind == kind and fragment in issue.message


def test_only_image_issue_asks_for_the_file(folder: DataFolder) -> None:
    assert folder.path_issue("sub/gone.png") is None
    assert folder.image_issue("sub/gone.png") == Issue("missing_image",
                                                       f"image 'sub/gone.png' not found in data_dir {folder.path}")
    assert folder.image_issue("sub/a.png") is None and folder.image_issue("sub/../sub/a.png") is None


def test_issue_at_places_it_in_a_file() -> None:
    assert str(Issue("empty_label", "empty label").at(Path("l.txt"), 3)) == "l.txt:3: empty label"


def test_reading_and_checking_modules_do_not_import_torch() -> None:
    modules = "thaiocr.labels, thaiocr.labelformats, thaiocr.datatools, thaiocr.data, thaiocr.evaluate, thaiocr.predict"
    probe = f"import sys, {modules}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
