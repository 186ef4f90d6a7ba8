"""The labelling layouts ``thaiocr data convert`` reads, each turned into rows of image path and raw text.

``SRC`` is a label file for the first three formats, a folder for the others:

- ``csv``: ``filename,text`` rows. A first row naming a file column (``file``, ``filename``,
  ``image``, ``path``...) is a header, and the columns are then found by name (text: ``text``,
  ``label``, ``transcription``). Without a header each row has two cells; quote texts with commas.
- ``jsonl``: one ``{"file": ..., "text": ...}`` object per line (the CSV column names work as keys).
- ``space``: ``filename text``: the file name ends at the first space or tab; the rest is the text.
- ``tesstrain``: ``name.gt.txt`` (one line of text) beside ``name.png`` (or .jpg, .tif...), in any subfolder.
- ``filename``: images named by their text, ``0812345678.png``. A trailing ``_<digits>`` counts
  duplicates and is not text (``สวัสดี_3.jpg`` reads ``สวัสดี``; ``A_1_2.png`` reads ``A_1``).

Image paths in csv, jsonl and space files are relative to the folder the caller names (that file's
by default); those of the folder formats are relative to the folder read. Rows are neither
normalised nor checked here: ``thaiocr.datatools`` holds them to the rules of ``thaiocr.labels``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from thaiocr.labels import LabelFileError, Problem, read_lines, read_text

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
FILE_KEYS = ("file", "filename", "file_name", "image", "image_path", "path")
TEXT_KEYS = ("text", "label", "transcription")
DUPLICATE_COUNTER = re.compile(r"_\d+$")


@dataclass(frozen=True)
class Row:
    """One labelled image as a source names it (``line == 0``: the source is the image itself)."""

    source: Path
    line: int
    image: str
    text: str


def _malformed(src: Path, line: int, message: str) -> Problem:
    return Problem(src, line, "malformed_line", message)


# --- label files --------------------------------------------------------------------------------


def _csv_rows(src: Path) -> Iterator[Row | Problem]:
    reader = csv.reader(io.StringIO(read_text(src), newline=""))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    file_col, text_col, exact = 0, 1, True
    if rows and set(FILE_KEYS) & {cell.strip().lower() for cell in rows[0][1]}:
        header = [cell.strip().lower() for cell in rows.pop(0)[1]]
        text_col = next((header.index(k) for k in TEXT_KEYS if k in header), -1)
        if text_col < 0:
            message = f"the header {header} has no text column ({', '.join(TEXT_KEYS)})"
            raise LabelFileError(_malformed(src, 1, message))
        file_col, exact = next(header.index(k) for k in FILE_KEYS if k in header), False
    for n, row in rows:
        if len(row) == 2 or (not exact and len(row) > max(file_col, text_col)):
            yield Row(src, n, row[file_col].strip(), row[text_col])
        else:
            yield _malformed(src, n, f"expected 2 cells (file name, text), got {len(row)}: quote a text holding commas")


def _jsonl_rows(src: Path) -> Iterator[Row | Problem]:
    for n, line in read_lines(src):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _malformed(src, n, f"not JSON ({exc.msg})")
            continue
        file, text = (next((obj[k] for k in keys if k in obj), None) if isinstance(obj, dict) else None
                      for keys in (FILE_KEYS, TEXT_KEYS))
        if isinstance(file, str) and isinstance(text, str):
            yield Row(src, n, file, text)
        else:
            yield _malformed(src, n, 'expected an object with string "file" and "text" values')


def _space_rows(src: Path) -> Iterator[Row | Problem]:
    for n, line in read_lines(src):
        parts = line.split(None, 1)
        yield Row(src, n, *parts) if len(parts) == 2 else _malformed(src, n, f"no text after the file name in {line!r}")


# --- folders ------------------------------------------------------------------------------------


def _tesstrain_rows(folder: Path) -> Iterator[Row | Problem]:
    for gt in sorted(folder.rglob("*.gt.txt")):
        stem = gt.name.removesuffix(".gt.txt")
        candidates = [gt.with_name(stem + s) for suffix in IMAGE_SUFFIXES for s in (suffix, suffix.upper())]
        image = next((c for c in candidates if c.is_file()), None)
        if image is None:
            message = f"no image {stem}.png (or {', '.join(IMAGE_SUFFIXES[1:])}) beside it"
            yield Problem(gt, 0, "missing_image", message)
            continue
        text = read_text(gt).removesuffix("\n").removesuffix("\r")
        yield Row(gt, 1, image.relative_to(folder).as_posix(), text)


def _filename_rows(folder: Path) -> Iterator[Row | Problem]:
    for image in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        yield Row(image, 0, image.relative_to(folder).as_posix(), text_from_filename(image.stem))


def text_from_filename(stem: str) -> str:
    """The text of an image named by it: the stem less a trailing ``_<digits>`` duplicate counter."""
    return DUPLICATE_COUNTER.sub("", stem)


Reader = Callable[[Path], Iterator[Row | Problem]]
TABLE_READERS: dict[str, Reader] = {"csv": _csv_rows, "jsonl": _jsonl_rows, "space": _space_rows}
FOLDER_READERS: dict[str, Reader] = {"tesstrain": _tesstrain_rows, "filename": _filename_rows}
