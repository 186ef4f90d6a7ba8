"""PaddleOCR recognition label files: reading them, splitting their lines, judging labels and image paths.

A label file holds one ``image/path<DELIM>label`` line per sample (a tab unless a recipe names
another delimiter), image paths relative to a data folder. This is the one place that reads such
files and judges their lines, for training (``thaiocr.data``) and the dataset tools
(``thaiocr.datatools``) alike. It imports no torch, so the dataset tools start at once.

The rules (ARCHITECTURE rule 3: fail loudly, name file and line):

- The file is UTF-8 (a BOM is tolerated). One bad byte makes the whole file unusable.
- Only the line ending is stripped. Empty lines are skipped; any other line must be a sample.
- A line splits at its first delimiter. The normalised label must hold more than whitespace, and
  no tab or line break: PaddleOCR splits a line at every delimiter and keeps only the second field,
  so a label holding a second tab would be read differently there.
- An image path is relative, stays inside the data folder (symlinks followed) and names a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import NotUTF8, decode_utf8

TAB = "\t"
LINE_BREAKS = "\t\n\r"  # a label file splits lines on \n and fields on \t
# Every kind a Problem can have, in the order reports count them.
PROBLEM_KINDS: tuple[str, ...] = (
    "missing_label_file",
    "bad_encoding",
    "malformed_line",
    "no_delimiter",
    "tab_or_line_break",
    "path_escapes",
    "missing_image",
    "corrupt_image",
    "empty_label",
    "unknown_chars",
    "too_long",
)


@dataclass(frozen=True)
class Problem:
    """One bad line (or a whole bad file, with ``line == 0``)."""

    source: Path
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else str(self.source)
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Issue:
    """What is wrong with a line, before it is placed in its file; ``at`` places it."""

    kind: str
    message: str

    def at(self, source: Path, line: int) -> Problem:
        return Problem(source, line, self.kind, self.message)


class LabelFileError(ThaiOCRError):
    """A label file that cannot be used at all: missing, unreadable or not UTF-8."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# --- reading ------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The text of a UTF-8 file (a BOM is tolerated); ``LabelFileError`` names the line of a bad byte."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LabelFileError(Problem(path, 0, "missing_label_file", "label file not found")) from None
    except OSError as exc:
        message = f"cannot read label file ({exc.strerror})"
        raise LabelFileError(Problem(path, 0, "missing_label_file", message)) from None
    try:
        return decode_utf8(raw)
    except NotUTF8 as exc:
        message = (
            f"label file is not UTF-8 (byte 0x{exc.byte:02x} on this line); none of its lines "
            "were used: re-save the whole file as UTF-8"
        )
        raise LabelFileError(Problem(path, exc.line, "bad_encoding", message)) from None


def read_lines(path: Path) -> list[tuple[int, str]]:
    """The non-empty lines of a UTF-8 file as ``(line number, line)``, only the line ending stripped."""
    numbered = enumerate((line.removesuffix("\r") for line in read_text(path).split("\n")), start=1)
    return [(n, line) for n, line in numbered if line]


def split_line(line: str, delimiter: str = TAB) -> tuple[str, str] | Issue:
    """``(image path, raw label)``: the line split at its first delimiter."""
    path, found, label = line.partition(delimiter)
    if not found:
        return Issue("no_delimiter", f"no delimiter {delimiter!r} between image path and label in {line[:80]!r}")
    return path, label


# --- judging ------------------------------------------------------------------------------------


def label_issue(text: str) -> Issue | None:
    """Why a normalised label is unusable whatever the alphabet: blank, or holding a tab or line break."""
    if not text.strip():
        return Issue("empty_label", "empty label")
    if _breaks_line(text):
        message = f"label {text!r} holds a tab or line break, which would end the label in a label file"
        return Issue("tab_or_line_break", message)
    return None


class DataFolder:
    """The folder a label file's image paths are relative to, resolved once."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._root = os.path.join(os.path.realpath(self.path), "")  # with a trailing separator

    def path_issue(self, rel: str) -> Issue | None:
        """Why ``rel`` cannot name an image in this folder, whether the file exists aside."""
        resolved = self._resolve(rel)
        return resolved if isinstance(resolved, Issue) else None

    def image_issue(self, rel: str) -> Issue | None:
        """Why ``rel`` does not name an image file in this folder."""
        resolved = self._resolve(rel)
        if isinstance(resolved, Issue):
            return resolved
        if not os.path.isfile(resolved):
            if os.path.isdir(resolved):
                return Issue("missing_image", f"image {rel!r} in data_dir {self.path} is a folder, not an image file")
            return Issue("missing_image", f"image {rel!r} not found in data_dir {self.path}")
        return None

    def _resolve(self, rel: str) -> str | Issue:
        """The real path ``rel`` leads to, or why it may not be followed."""
        if not rel:
            return Issue("missing_image", "no image path")
        if _breaks_line(rel):
            return Issue("tab_or_line_break", f"image path {rel!r} holds a tab or line break")
        if "\0" in rel:  # no file system takes it; os.path would raise
            return Issue("malformed_line", f"image path {rel!r} holds a NUL character")
        if os.path.isabs(rel):
            return Issue("path_escapes", f"image path {rel!r} is absolute; give it relative to data_dir {self.path}")
        # os.path rather than pathlib: this runs once per line and pathlib triples its cost.
        resolved = os.path.realpath(os.path.join(self.path, rel))
        if not resolved.startswith(self._root):
            return Issue("path_escapes", f"image path {rel!r} leads outside data_dir {self.path}, to {resolved}")
        return resolved


def _breaks_line(text: str) -> bool:
    return any(ch in text for ch in LINE_BREAKS)
