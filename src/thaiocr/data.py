"""Label files -> validated samples (the datasets and batches are in ``batches.py``).

PaddleOCR recognition label files hold one sample per line, ``image/path<DELIM>label``, image
paths relative to ``data_dir``. Every line is checked when a split is built (ARCHITECTURE rule 3):
by the rules of ``thaiocr.labels`` (encoding, delimiter, label, image path), and here besides,
the image must be readable and the normalised label must fit the alphabet and ``max_text_length``.
Bad lines become ``Problem`` records naming file and line; the split's ``on_bad_data`` policy
decides whether they stop the run (``strict``) or are left out with a warning (``skip``).

The datasets and batches built from the chosen samples live in ``batches.py``; this module does
not import torch, so checking data and reading label files for evaluation stay light.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from thaiocr.charset import Charset, load_charset, normalize_text
from thaiocr.config import Config, DatasetConfig
from thaiocr.errors import ThaiOCRError, counted
from thaiocr.imageload import PILLOW_LIMIT, decode
from thaiocr.labels import (
    PROBLEM_KINDS,
    DataFolder,
    Issue,
    LabelFileError,
    Problem,
    label_issue,
    read_lines,
    split_line,
)
from thaiocr.preprocess import ImageError

logger = logging.getLogger(__name__)

CheckImages = Literal["exists", "open", "decode"]
CHECK_IMAGES: tuple[str, ...] = ("exists", "open", "decode")
# ratio_list picks the same lines on every run, so `data check` and training see the same subset.
RATIO_SEED = 0
SUMMARY_PROBLEMS = 20
WARN_PROBLEMS = 5
SUMMARY_MISSING_CHARS = 40


class DataError(ThaiOCRError):
    """A dataset that cannot be used as it stands; the message lists what to fix."""


# --- records ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One good line: the image to read and its normalised label."""

    image_path: Path
    text: str
    source: Path
    line: int


@dataclass
class DataReport:
    """What scanning one split found: the good samples, the problems and the characters used."""

    split: str
    label_files: list[Path]
    charset: Charset
    max_text_length: int
    n_lines: int = 0
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    char_counts: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        """Usable as it stands: no problems, and at least one good sample."""
        return not self.problems and bool(self.samples)

    @property
    def longest_label(self) -> int:
        return max((len(s.text) for s in self.samples), default=0)

    def problem_counts(self) -> dict[str, int]:
        counts = Counter(p.kind for p in self.problems)
        return {kind: counts[kind] for kind in PROBLEM_KINDS if counts[kind]}

    def coverage(self, charset: Charset | None = None) -> tuple[int, int, list[str]]:
        """``(used, total, missing)``: how many alphabet characters the good labels contain.

        A character no label contains is one the model can never learn to read.
        """
        chars = (charset or self.charset).chars
        missing = [ch for ch in chars if ch not in self.char_counts]
        return len(chars) - len(missing), len(chars), missing

    def summary(self) -> str:
        """A human-readable report: counts, alphabet coverage, the first problems."""
        lines = [self._headline(), f"  label files: {', '.join(map(str, self.label_files))}"]
        used, total, missing = self.coverage()
        lines.append(f"  alphabet coverage: {used} of {total} characters appear in the good labels")
        if missing:
            lines.append(f"  never seen: {_list_chars(missing, SUMMARY_MISSING_CHARS)}")
        lines.append(
            f"  longest label: {self.longest_label} code points (max_text_length {self.max_text_length})"
        )
        if self.problems:
            lines.append("  problems:")
            lines += [f"    {p}" for p in self.problems[:SUMMARY_PROBLEMS]]
            if len(self.problems) > SUMMARY_PROBLEMS:
                lines.append(f"    ... and {len(self.problems) - SUMMARY_PROBLEMS} more")
        return "\n".join(lines)

    def _headline(self) -> str:
        head = (
            f"{self.split}: {self.n_lines} lines, {len(self.samples)} good samples, "
            f"{counted(len(self.problems), 'problem')}"
        )
        counts = self.problem_counts()
        if counts:
            head += " (" + ", ".join(f"{kind} {n}" for kind, n in counts.items()) + ")"
        return head

    def to_dict(self) -> dict:
        """JSON-ready data (the samples themselves are left out; their count is kept)."""
        used, total, missing = self.coverage()
        return {
            "split": self.split,
            "label_files": [str(p) for p in self.label_files],
            "n_lines": self.n_lines,
            "n_samples": len(self.samples),
            "n_problems": len(self.problems),
            "problem_counts": self.problem_counts(),
            "problems": [{**asdict(p), "source": str(p.source)} for p in self.problems],
            "char_counts": dict(self.char_counts.most_common()),
            "coverage": {"used": used, "total": total, "missing": missing},
            "longest_label": self.longest_label,
            "max_text_length": self.max_text_length,
        }


def _quote_chars(chars: Sequence[str]) -> str:
    """Characters as ``'x' (U+0078)``, so that look-alike Thai marks can be told apart."""
    return ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in chars)


def _list_chars(chars: Sequence[str], limit: int) -> str:
    shown = " ".join(repr(ch) for ch in chars[:limit])
    return shown + (f" ... and {len(chars) - limit} more" if len(chars) > limit else "")


# --- scanning -----------------------------------------------------------------------------------


def scan_split(
    dataset: DatasetConfig,
    charset: Charset,
    max_text_length: int,
    split: str = "Train",
    check_images: CheckImages = "open",
) -> DataReport:
    """Read and validate every line of a split's label files; bad lines become problems.

    ``check_images``: ``exists`` only looks for the file, ``open`` also reads its header and
    checks its structure with PIL (fast), ``decode`` decodes every pixel (slow, certain).
    Raises only when the split cannot be read at all (no label files, a malformed setting).
    """
    _check_scan_settings(dataset, split, check_images)
    ratios = _ratios(dataset, split)
    checker = _LineChecker(dataset, charset, max_text_length, check_images)
    report = DataReport(split, list(dataset.label_file_list), charset, max_text_length)
    for source, ratio in zip(dataset.label_file_list, ratios, strict=True):
        lines, problem = _read_label_file(source)
        if problem:
            report.problems.append(problem)
            continue
        for line_no, line in _sample_lines(lines, ratio):
            report.n_lines += 1
            sample, problems = checker.check(source, line_no, line)
            report.problems += problems
            if sample:
                report.samples.append(sample)
                report.char_counts.update(sample.text)
    return report


def _check_scan_settings(dataset: DatasetConfig, split: str, check_images: str) -> None:
    if not dataset.label_file_list:
        raise DataError(f"{split}.dataset.label_file_list is empty: name at least one label file")
    if not dataset.delimiter:
        raise DataError(f"{split}.dataset.delimiter is empty")
    if check_images not in CHECK_IMAGES:
        raise DataError(f"check_images must be one of {', '.join(CHECK_IMAGES)}, got {check_images!r}")


def _ratios(dataset: DatasetConfig, split: str) -> list[float]:
    n_files = len(dataset.label_file_list)
    if dataset.ratio_list is None:
        return [1.0] * n_files
    if len(dataset.ratio_list) != n_files:
        raise DataError(
            f"{split}.dataset.ratio_list has {len(dataset.ratio_list)} values for {n_files} label files; "
            "give one per file"
        )
    for ratio in dataset.ratio_list:
        if not 0.0 <= ratio <= 1.0:
            raise DataError(f"{split}.dataset.ratio_list: {ratio} is not a fraction between 0 and 1")
    return list(dataset.ratio_list)


def _read_label_file(source: Path) -> tuple[list[tuple[int, str]], Problem | None]:
    """The file's numbered non-empty lines, or none and the problem that makes the whole file unusable."""
    try:
        return read_lines(source), None
    except LabelFileError as exc:
        return [], exc.problem


def _sample_lines(lines: list[tuple[int, str]], ratio: float) -> list[tuple[int, str]]:
    """A fixed, seeded subset of ``round(len * ratio)`` lines in file order (PaddleOCR's ratio_list)."""
    if ratio >= 1.0:
        return lines
    keep = sorted(random.Random(RATIO_SEED).sample(range(len(lines)), round(len(lines) * ratio)))
    return [lines[i] for i in keep]


@dataclass
class _LineChecker:
    dataset: DatasetConfig
    charset: Charset | None  # None: labels are not held against an alphabet or a length limit
    max_text_length: int
    check_images: str
    folder: DataFolder = field(init=False)

    def __post_init__(self) -> None:
        self.folder = DataFolder(self.dataset.data_dir)

    def check(self, source: Path, line_no: int, line: str) -> tuple[Sample | None, list[Problem]]:
        split = split_line(line, self.dataset.delimiter)
        if isinstance(split, Issue):
            return None, [split.at(source, line_no)]
        rel_path, raw_label = split
        text = normalize_text(raw_label)
        issues = [*self._label_issues(text), *self._image_issues(rel_path)]
        if issues:
            return None, [issue.at(source, line_no) for issue in issues]
        return Sample(self.dataset.data_dir / rel_path, text, source, line_no), []

    def _label_issues(self, text: str) -> Iterator[Issue]:
        if issue := label_issue(text):
            yield issue
            return
        if self.charset is None:
            return
        unknown = self.charset.unknown_chars(text)
        if unknown:
            yield Issue("unknown_chars", f"label {text!r} has characters outside the alphabet: {_quote_chars(unknown)}")
        if len(text) > self.max_text_length:
            yield Issue(
                "too_long",
                f"label {text!r} has {len(text)} code points, more than max_text_length {self.max_text_length}",
            )

    def _image_issues(self, rel_path: str) -> Iterator[Issue]:
        issue = self.folder.image_issue(rel_path)
        if issue:
            yield issue
        elif self.check_images != "exists":
            error = _image_error(self.dataset.data_dir / rel_path, full_decode=self.check_images == "decode")
            if error:
                yield Issue("corrupt_image", f"image {rel_path!r} cannot be read: {error}")


def _image_error(path: Path, full_decode: bool) -> str | None:
    """Why the image at ``path`` is unreadable, or None when it reads."""
    if full_decode:
        try:
            decode(path, str(path), PILLOW_LIMIT, "Pillow's limit")
        except ImageError as exc:
            return str(exc)
        return None
    try:
        with Image.open(path) as img:
            img.verify()
    # PIL's format plugins raise many exception types on malformed files; any of them means corrupt.
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


# --- the samples of a split -----------------------------------------------------------------------------------


def select_samples(
    dataset: DatasetConfig,
    charset: Charset,
    max_text_length: int,
    split: str = "Train",
    check_images: CheckImages = "open",
) -> list[Sample]:
    """Scan a split and keep its good samples, applying the split's ``on_bad_data`` policy."""
    report = scan_split(dataset, charset, max_text_length, split, check_images)
    if report.problems and dataset.on_bad_data == "strict":
        raise DataError(
            f"{report.summary()}\nfix these lines, or set {split}.dataset.on_bad_data: skip to leave them out"
        )
    if report.problems:
        _warn_skipped(report)
    if not report.samples:
        raise DataError(f"{report.summary()}\n{split} has no usable samples")
    logger.info("%s: %d samples from %d label files", split, len(report.samples), len(report.label_files))
    return report.samples


def _warn_skipped(report: DataReport) -> None:
    shown = "\n".join(f"  {p}" for p in report.problems[:WARN_PROBLEMS])
    more = len(report.problems) - WARN_PROBLEMS
    logger.warning(
        "%s: %s; leaving out the bad lines and unreadable files (on_bad_data: skip):\n%s%s",
        report.split,
        counted(len(report.problems), "problem"),
        shown,
        f"\n  ... and {more} more" if more > 0 else "",
    )


# --- label files for measuring and reading ---------------------------------------------------------


def read_labelled_images(labels: Path) -> list[Sample]:
    """Every line of one label file, image paths relative to the file's folder, for evaluation.

    Labels are normalised but not held against an alphabet: a character a model cannot produce
    counts as that model's error. Any unusable line stops with all problems listed, since a
    score on part of a test set would mislead.
    """
    dataset = DatasetConfig(data_dir=Path(labels).parent, label_file_list=[Path(labels)])
    checker = _LineChecker(dataset, None, 0, "exists")
    lines, problem = _read_label_file(Path(labels))
    problems = [problem] if problem else []
    samples = []
    for line_no, line in lines:
        sample, found = checker.check(Path(labels), line_no, line)
        problems += found
        if sample:
            samples.append(sample)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:SUMMARY_PROBLEMS])
        raise DataError(f"{labels}: {counted(len(problems), 'unusable line')}:\n{shown}")
    if not samples:
        raise DataError(f"{labels}: no labelled images")
    return samples


# --- the `data check` command -------------------------------------------------------------------


def check_data(config: Config, check_images: CheckImages = "open") -> list[DataReport]:
    """Scan the Train split and the Eval split (when configured) against the recipe's alphabet."""
    charset = load_charset(config.Global.character_dict_path, config.Global.use_space_char)
    splits = [("Train", config.Train)] + ([("Eval", config.Eval)] if config.Eval else [])
    return [
        scan_split(section.dataset, charset, config.Global.max_text_length, name, check_images)
        for name, section in splits
    ]
