"""Dataset tools for PaddleOCR recognition label files: ``stats``, ``split``, ``merge``, ``convert``.

A label file holds ``relative/path<TAB>label`` lines. Its data folder is always the folder it sits
in (the guide's layout, and what ``thaiocr synth`` writes). Lines are judged by the rules of
``thaiocr.labels``, the ones training applies, and every label goes through ``normalize_text``.
Bad input (a missing image, a label file not in UTF-8, an empty label, an image path leading outside
its folder, a tab or line break in a label) stops a command before it writes anything, with every
bad file and line listed; ``skip_bad`` leaves bad lines out and lists them. Label files are written
atomically, after their images, and never over an existing file without ``force``.

``convert`` reads the layouts of ``thaiocr.labelformats``.
This module does not import torch (``thaiocr.data`` does), so the commands start at once.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from PIL import Image
from tqdm import tqdm

from thaiocr.charset import Charset, normalize_text
from thaiocr.errors import ThaiOCRError, counted
from thaiocr.fileio import atomic_copy, atomic_write_text
from thaiocr.labelformats import FOLDER_READERS, TABLE_READERS
from thaiocr.labels import DataFolder, Issue, Problem, label_issue, read_lines, split_line

TRAIN_LABELS = "rec_gt_train.txt"
VAL_LABELS = "rec_gt_val.txt"
LENGTH_BUCKET = 5  # code points per bar of the label-length histogram
SHOWN = 20  # problems listed in a message
SHOWN_CHARS = 40  # unseen dict characters listed in a summary

Place = Literal["copy", "link"]


class DataToolError(ThaiOCRError):
    """Input a dataset tool cannot use as it stands, or an output it will not overwrite."""


@dataclass(frozen=True)
class Entry:
    """One usable labelled image: its data folder, its path there as written, its normalised label."""

    folder: Path
    rel: str
    text: str
    source: Path
    line: int

    @property
    def image(self) -> Path:
        return self.folder / self.rel


# --- reading ------------------------------------------------------------------------------------


def read_label_file(labels: Path) -> tuple[list[Entry], list[Problem]]:
    """Every non-empty line of a PaddleOCR label file, usable or not (image existence is not checked)."""
    labels = Path(labels)
    folder = DataFolder(labels.parent)
    results: list[Entry | Problem] = []
    for n, line in read_lines(labels):
        split = split_line(line)
        results.append(split.at(labels, n) if isinstance(split, Issue) else _entry(folder, *split, labels, n))
    return _sort_out(results)


def _entry(folder: DataFolder, rel: str, label: str, source: Path, line: int) -> Entry | Problem:
    text = normalize_text(label)
    issue = label_issue(text) or folder.path_issue(rel)
    return issue.at(source, line) if issue else Entry(folder.path, rel, text, source, line)


def _sort_out(results: Iterable[Entry | Problem]) -> tuple[list[Entry], list[Problem]]:
    results = list(results)
    return [r for r in results if isinstance(r, Entry)], [r for r in results if isinstance(r, Problem)]


def _with_images(entries: list[Entry], progress: bool) -> tuple[list[Entry], list[Problem]]:
    """The entries whose image file exists, and a Problem for each of the others."""
    folders = {path: DataFolder(path) for path in {e.folder for e in entries}}
    found, missing = [], []
    for e in tqdm(entries, desc="checking images", unit="img", disable=not progress):
        issue = folders[e.folder].image_issue(e.rel)
        if issue:
            missing.append(issue.at(e.source, e.line))
        else:
            found.append(e)
    return found, missing


def _usable(labels: Path, progress: bool) -> tuple[list[Entry], list[Problem]]:
    entries, problems = read_label_file(labels)
    found, missing = _with_images(entries, progress)
    return found, sorted(problems + missing, key=lambda p: p.line)


# --- policy and writing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """What a writing command produced: lines per label file, images placed, what it left out or found twice."""

    labels: dict[Path, int]
    n_images: int = 0
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)

    def summary(self) -> str:
        files = ", ".join(f"{counted(n, 'line')} to {path}" for path, n in self.labels.items())
        lines = [f"Wrote {files}" + (f" ({counted(self.n_images, 'image')})" if self.n_images else "")]
        if self.duplicates:
            lines.append(_listing(self.duplicates, f"{counted(len(self.duplicates), 'duplicate')} "
                                                   "(same image bytes and label)"))
        if self.problems:
            lines.append("left out " + _listing(self.problems, counted(len(self.problems), "bad line")))
        return "\n".join(lines)


def _listing(items: Sequence[object], heading: str) -> str:
    """``heading:`` (``3 bad lines``, say) and the first items, one a line."""
    lines = [f"{heading}:", *(f"  {item}" for item in items[:SHOWN])]
    if len(items) > SHOWN:
        lines.append(f"  ... and {len(items) - SHOWN} more")
    return "\n".join(lines)


def _enforce(problems: Sequence[Problem], skip_bad: bool) -> None:
    if problems and not skip_bad:
        raise DataToolError(f"{_listing(problems, counted(len(problems), 'bad line'))}\n"
                            "fix them, or leave them out with --skip-bad")


def _refuse_existing(paths: Iterable[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        heading = f"{counted(len(existing), 'output exists', 'outputs exist')} already"
        raise DataToolError(f"{_listing(existing, heading)}\npass --force to overwrite them")


def _check_name(name: str) -> None:
    if not name or Path(name).name != name:
        raise DataToolError(f"label file name {name!r} must be a plain file name (it sits in the output folder)")


def _write_labels(path: Path, lines: Iterable[tuple[str, str]]) -> None:
    try:
        atomic_write_text(path, "".join(f"{rel}\t{text}\n" for rel, text in lines))
    except OSError as exc:
        raise DataToolError(f"cannot write {path} ({exc.strerror})") from None


def _place_images(images: dict[str, Path], out_dir: Path, place: Place, progress: bool) -> None:
    """Copy or hard-link each image to ``out_dir / target``.

    Not symlinks: their targets lie outside the data folder, which ``data check`` refuses.
    """
    for rel, source in tqdm(images.items(), desc="writing images", unit="img", disable=not progress):
        target = out_dir / rel
        try:
            if place == "copy":
                atomic_copy(source, target)
            else:
                _hard_link(source, target)
        except OSError as exc:
            hint = "; --copy works across file systems" if place == "link" else ""
            raise DataToolError(f"cannot {place} {source} to {target} ({exc.strerror}){hint}") from None


def _hard_link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.link")
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)


def _posix(rel: str) -> PurePosixPath:
    return PurePosixPath(os.path.normpath(rel))


# --- stats --------------------------------------------------------------------------------------


@dataclass
class DatasetStats:
    """What the lines of some label files hold: label lengths, characters, fonts, image sizes."""

    label_files: list[Path]
    charset: Charset | None = None
    n_lines: int = 0
    lengths: Counter[int] = field(default_factory=Counter)
    chars: Counter[str] = field(default_factory=Counter)
    fonts: Counter[str] = field(default_factory=Counter)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    bad_lines: list[Problem] = field(default_factory=list)
    missing_images: list[Problem] = field(default_factory=list)
    unreadable_images: list[Problem] = field(default_factory=list)

    def add(self, entry: Entry, font: str | None, folder: DataFolder) -> None:
        """Count one line read from a label file in ``folder``, and the header of its image."""
        self.lengths[len(entry.text)] += 1
        self.chars.update(entry.text)
        self.fonts.update([font] if font else [])
        if missing := folder.image_issue(entry.rel):
            self.missing_images.append(missing.at(entry.source, entry.line))
            return
        try:
            with Image.open(entry.image) as img:  # reads the header only
                self.sizes.append(img.size)
        except (OSError, SyntaxError, ValueError) as exc:
            unreadable = Problem(entry.source, entry.line, "corrupt_image", f"image {entry.rel!r}: {exc}")
            self.unreadable_images.append(unreadable)

    def length_histogram(self) -> dict[str, int]:
        """Labels per length range in code points (``1-5``, ``6-10``, ...), empty ranges included."""
        bars: Counter[int] = Counter()
        for n, count in self.lengths.items():
            bars[(n - 1) // LENGTH_BUCKET] += count
        return {f"{b * LENGTH_BUCKET + 1}-{(b + 1) * LENGTH_BUCKET}": bars[b] for b in range(max(bars, default=-1) + 1)}

    def coverage(self) -> dict | None:
        """Dict characters never seen, and characters seen outside the dict with their counts."""
        if self.charset is None:
            return None
        return {"dict_size": len(self.charset),
                "unseen": [ch for ch in self.charset.chars if ch not in self.chars],
                "outside": {ch: n for ch, n in self.chars.most_common() if ch not in self.charset}}

    def image_sizes(self) -> dict[str, dict[str, float]]:
        sides = {"width": [w for w, _ in self.sizes], "height": [h for _, h in self.sizes]}
        return {k: {"min": min(v), "median": statistics.median(v), "max": max(v)} for k, v in sides.items() if v}

    def to_dict(self) -> dict:
        return {"label_files": [str(p) for p in self.label_files], "n_lines": self.n_lines,
                "n_labels": self.lengths.total(), "length_histogram": self.length_histogram(),
                "char_counts": dict(self.chars.most_common()), "coverage": self.coverage(),
                "fonts": dict(self.fonts.most_common()), "image_sizes": self.image_sizes(),
                "bad_lines": len(self.bad_lines), "missing_images": len(self.missing_images),
                "unreadable_images": len(self.unreadable_images), "problems": list(map(str, self._problems()))}

    def summary(self) -> str:
        lines = [f"{', '.join(map(str, self.label_files))}: {self.n_lines} lines, {len(self.bad_lines)} bad, "
                 f"{len(self.missing_images)} missing images, {len(self.unreadable_images)} unreadable images",
                 f"  label length (code points): {_pairs(self.length_histogram())}",
                 f"  characters: {len(self.chars)} distinct, {self.chars.total()} in all"]
        if coverage := self.coverage():
            missing = coverage["unseen"]
            unseen = " ".join(map(repr, missing[:SHOWN_CHARS])) or "none"
            unseen += f" ... and {len(missing) - SHOWN_CHARS} more" if len(missing) > SHOWN_CHARS else ""
            outside = _pairs({repr(ch): n for ch, n in coverage["outside"].items()}) or "none"
            lines += [f"  dict of {coverage['dict_size']} characters, never seen: {unseen}",
                      f"  seen outside the dict: {outside}"]
        if self.fonts:
            lines.append(f"  fonts: {_pairs(dict(self.fonts.most_common()))}")
        lines += [f"  image {side}: min {d['min']}, median {d['median']:g}, max {d['max']}"
                  for side, d in self.image_sizes().items()]
        problems = self._problems()
        return "\n".join(lines + ([f"  {_listing(problems, counted(len(problems), 'problem'))}"] if problems else []))

    def _problems(self) -> list[Problem]:
        return self.bad_lines + self.missing_images + self.unreadable_images


def _pairs(mapping: dict) -> str:
    return ", ".join(f"{key}: {value}" for key, value in mapping.items())


def dataset_stats(label_files: Sequence[Path], charset: Charset | None = None, progress: bool = True) -> DatasetStats:
    """Read every line of ``label_files`` and the header of every image they name.

    Bad lines, missing and unreadable images are counted, not raised: the report is for finding them.
    """
    stats = DatasetStats([Path(p) for p in label_files], charset)
    for labels in stats.label_files:
        entries, problems = read_label_file(labels)
        stats.n_lines += len(entries) + len(problems)
        stats.bad_lines += problems
        fonts, folder = _meta_fonts(labels.parent), DataFolder(labels.parent)
        for entry in tqdm(entries, desc=f"reading {labels.name}", unit="img", disable=not progress):
            stats.add(entry, fonts.get(entry.rel), folder)
    return stats


def _meta_fonts(folder: Path) -> dict[str, str]:
    """``image path -> font`` from the ``rec_meta_*.tsv`` files in ``folder`` (``thaiocr synth`` writes them)."""
    fonts: dict[str, str] = {}
    for meta in sorted(folder.glob("rec_meta_*.tsv")):
        rows = [line.split("\t") for _, line in read_lines(meta)]
        header = rows[0] if rows else []
        if "path" not in header or "font" not in header:
            raise DataToolError(f"{meta}:1: expected a header with path and font columns, got {header}")
        path_col, font_col = header.index("path"), header.index("font")
        fonts.update((row[path_col], row[font_col]) for row in rows[1:] if len(row) > max(path_col, font_col))
    return fonts


# --- split --------------------------------------------------------------------------------------


def split_labels(labels: Path, val_fraction: float, seed: int, out_dir: Path | None = None, force: bool = False,
                 skip_bad: bool = False, progress: bool = True) -> Written:
    """Deal the lines of one label file into ``rec_gt_train.txt`` and ``rec_gt_val.txt``.

    The same seed always picks the same lines. Lines keep their order and their image paths, so
    the input's data folder serves both files (``out_dir`` defaults to it).
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataToolError(f"the validation fraction must lie between 0 and 1, got {val_fraction}")
    labels = Path(labels)
    out_dir = Path(out_dir) if out_dir else labels.parent
    entries, problems = _usable(labels, progress)
    _enforce(problems, skip_bad)
    n_val = round(len(entries) * val_fraction)
    if not 0 < n_val < len(entries):
        raise DataToolError(f"{labels}: {len(entries)} usable lines cannot be split {1 - val_fraction:g}:"
                            f"{val_fraction:g} with both parts non-empty")
    val_rows = set(random.Random(seed).sample(range(len(entries)), n_val))
    train, val = out_dir / TRAIN_LABELS, out_dir / VAL_LABELS
    _refuse_existing([train, val], force)
    _write_labels(val, [(e.rel, e.text) for i, e in enumerate(entries) if i in val_rows])
    _write_labels(train, [(e.rel, e.text) for i, e in enumerate(entries) if i not in val_rows])
    return Written({train: len(entries) - n_val, val: n_val}, problems=problems)


# --- merge --------------------------------------------------------------------------------------


def merge_datasets(inputs: Sequence[Path], out_dir: Path, name: str | None = None, place: Place = "copy",
                   force: bool = False, skip_bad: bool = False, progress: bool = True) -> Written:
    """Gather label files and their images into one dataset folder.

    Each input is a label file or a dataset folder (standing for its ``rec_gt_*.txt`` files). Lines
    go to the output label file of the same name (train stays train, val stays val), or all to
    ``name``. Images land in ``out_dir/sources/<input folder name>/<path as written>``, the folder
    name numbered on a clash, so equal paths of two inputs stay apart. A line repeating an earlier
    line's image bytes and label is written once per label file; every repeat is reported.
    """
    out_dir = Path(out_dir)
    if name is not None:
        _check_name(name)
    rows: list[tuple[str, Entry]] = []
    problems: list[Problem] = []
    for labels in _input_label_files(inputs):
        entries, bad = _usable(labels, progress)
        rows += [(name or labels.name, e) for e in entries]
        problems += bad
    _enforce(problems, skip_bad)
    if not rows:
        raise DataToolError(f"no usable lines in {', '.join(map(str, inputs))}")
    rows, duplicates = _drop_duplicates(rows, progress)
    tags = _folder_tags(e.folder for _, e in rows)
    files: dict[str, list[tuple[str, str]]] = {}
    images: dict[str, Path] = {}
    for out_name, e in rows:
        target = str(PurePosixPath("sources", tags[e.folder]) / _posix(e.rel))
        files.setdefault(out_name, []).append((target, e.text))
        images[target] = e.image
    _refuse_existing([*(out_dir / n for n in files), *(out_dir / t for t in images)], force)
    _place_images(images, out_dir, place, progress)
    for out_name, lines in files.items():
        _write_labels(out_dir / out_name, lines)
    return Written({out_dir / n: len(lines) for n, lines in files.items()}, len(images), problems, duplicates)


def _input_label_files(inputs: Sequence[Path]) -> list[Path]:
    """The label files the inputs stand for, each once."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(item.glob("rec_gt_*.txt"))
            if not found:
                raise DataToolError(f"{item}: no rec_gt_*.txt label file in this folder; name the label file")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise DataToolError(f"{item}: no such label file or dataset folder")
    return list({path.resolve(): path for path in files}.values())


def _drop_duplicates(rows: list[tuple[str, Entry]], progress: bool) -> tuple[list[tuple[str, Entry]], list[str]]:
    """Keep one line per (image bytes, label) in each output file; describe every repeat."""
    seen: dict[tuple[str, str], dict[str, Entry]] = {}  # (image digest, label) -> output file -> first line
    digests: dict[Path, str] = {}
    kept, duplicates = [], []
    for out_name, entry in tqdm(rows, desc="hashing images", unit="img", disable=not progress):
        if entry.image not in digests:
            digests[entry.image] = hashlib.sha256(entry.image.read_bytes()).hexdigest()
        firsts = seen.setdefault((digests[entry.image], entry.text), {})
        first = firsts.get(out_name) or next(iter(firsts.values()), None)
        if first:
            fate = "left out" if out_name in firsts else "kept: the two go to different label files"
            duplicates.append(f"{entry.source}:{entry.line} repeats {first.source}:{first.line} ({fate})")
        if out_name not in firsts:
            firsts[out_name] = entry
            kept.append((out_name, entry))
    return kept, duplicates


def _folder_tags(folders: Iterable[Path]) -> dict[Path, str]:
    """A distinct sub-folder name per data folder: its own name, then ``_2``, ``_3``... on a clash."""
    tags: dict[Path, str] = {}
    for folder in dict.fromkeys(folders):
        base = folder.resolve().name or "data"
        candidates = [base, *(f"{base}_{n}" for n in range(2, len(tags) + 2))]  # one more than the tags taken
        tags[folder] = next(tag for tag in candidates if tag not in tags.values())
    return tags


# --- convert ------------------------------------------------------------------------------------


def convert_dataset(src: Path, fmt: str, out_dir: Path, name: str = TRAIN_LABELS, images: Path | None = None,
                    place: Place = "copy", force: bool = False, skip_bad: bool = False,
                    progress: bool = True) -> Written:
    """Turn another labelling layout (see ``thaiocr.labelformats``) into the guide's layout.

    Images land in ``out_dir/thai_data/<split>/<path in the source>``, ``<split>`` being ``name``
    less ``rec_gt_`` and its suffix (``rec_gt_val.txt`` -> ``thai_data/val``); labels in ``out_dir/name``.
    """
    src, out_dir = Path(src), Path(out_dir)
    _check_name(name)
    entries, problems = _read_source(src, fmt, images)
    entries, missing = _with_images(entries, progress)
    problems = problems + missing
    _enforce(problems, skip_bad)
    if not entries:
        raise DataToolError(f"{src}: no labelled images found")
    prefix = PurePosixPath("thai_data", re.sub(r"^rec_gt_", "", Path(name).stem))
    lines = [(str(prefix / _posix(e.rel)), e.text) for e in entries]
    image_map = {rel: e.image for (rel, _), e in zip(lines, entries, strict=True)}
    labels = out_dir / name
    _refuse_existing([labels, *(out_dir / rel for rel in image_map)], force)
    _place_images(image_map, out_dir, place, progress)
    _write_labels(labels, lines)
    return Written({labels: len(lines)}, len(image_map), problems)


def _read_source(src: Path, fmt: str, images: Path | None) -> tuple[list[Entry], list[Problem]]:
    if fmt in TABLE_READERS:
        folder, rows = DataFolder(Path(images) if images else src.parent), TABLE_READERS[fmt](src)
    elif fmt in FOLDER_READERS:
        if images:
            raise DataToolError(f"--images applies to {', '.join(TABLE_READERS)}; {fmt} reads the images in {src}")
        if not src.is_dir():
            raise DataToolError(f"{src}: not a folder; the {fmt} format reads a folder of images")
        folder, rows = DataFolder(src), FOLDER_READERS[fmt](src)
    else:
        raise DataToolError(f"unknown format {fmt!r}; choose one of {', '.join([*TABLE_READERS, *FOLDER_READERS])}")
    return _sort_out(row if isinstance(row, Problem) else _entry(folder, row.image, row.text, row.source, row.line)
                     for row in rows)
