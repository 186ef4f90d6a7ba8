"""Line corpora for the text sources (pythainlp's bundled word lists, a user's own text file) and
the Thai-safe cutting of a line to a length limit.

Each corpus is read once per process (``functools.lru_cache``) and shared by every source built on it.
pythainlp's files are read straight from the installed package: ``importlib.util.find_spec`` finds
them without importing pythainlp (an import costs ~0.15 s), and nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

from thaiocr.charset import COMBINING, SARA_AM, Charset, is_combining
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import NotUTF8, decode_utf8

ENGLISH_WORDS_FILE = "th_en_transliteration_v1.4.tsv"


def pythainlp_corpus_dir() -> Path:
    spec = importlib.util.find_spec("pythainlp")
    if spec is None or not spec.submodule_search_locations:
        raise ThaiOCRError("the Thai text sources need pythainlp: pip install 'pythainlp>=5'")
    return Path(spec.submodule_search_locations[0]) / "corpus"


@functools.cache
def pythainlp_lines(filename: str) -> tuple[str, ...]:
    """The entries of one of pythainlp's one-per-line corpora, without empty and ``#`` comment lines."""
    lines = (line.strip() for line in _read_lines(pythainlp_corpus_dir() / filename))
    return tuple(line for line in lines if line and not line.startswith("#"))


@functools.cache
def english_words() -> tuple[str, ...]:
    """English words and short phrases (graph, qr code, ...) from pythainlp's transliteration table."""
    rows = _read_lines(pythainlp_corpus_dir() / ENGLISH_WORDS_FILE)[1:]  # the first row is the header
    words = (" ".join(row.split("\t")[1].split()) for row in rows if "\t" in row)
    return tuple(dict.fromkeys(word for word in words if word.isascii() and word))


def read_corpus_file(path: str | Path) -> tuple[str, ...]:
    """A user's corpus: one sample per line, whitespace runs collapsed to one space, empty lines skipped."""
    return _read_corpus_file(Path(path).expanduser().resolve())


@functools.lru_cache(maxsize=16)
def _read_corpus_file(path: Path) -> tuple[str, ...]:
    lines = (" ".join(line.split()) for line in _read_lines(path))
    return tuple(line for line in lines if line)


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ThaiOCRError(f"{path}: cannot read corpus file ({exc.strerror})") from None
    try:
        text = decode_utf8(raw)
    except NotUTF8 as exc:
        raise ThaiOCRError(f"{path}:{exc.line}: corpus file is not UTF-8 (byte {exc.byte:#04x})") from None
    return [line.rstrip("\r") for line in text.split("\n")]


def lines_in_alphabet(lines: Sequence[str], charset: Charset | None, what: str) -> list[str]:
    """The lines made only of the alphabet's characters; an error when none is, not endless redraws.

    Whole lines are kept or dropped, never edited; a regex of the missing characters is ~5x faster
    than set arithmetic on the 290,000 Wikipedia titles.
    """
    if not lines:
        raise ThaiOCRError(f"{what}: no text lines")
    if charset is None:
        return list(lines)
    outside = re.compile("[^" + re.escape("".join(charset.chars)) + "]")
    kept = [line for line in lines if not outside.search(line)]
    if not kept:
        missing = " ".join(map(repr, charset.unknown_chars(lines[0])))
        raise ThaiOCRError(f"{what}: none of its {len(lines)} lines fits the alphabet (the first lacks {missing})")
    return kept


# --- safe cutting -------------------------------------------------------------------------------

THAI_CONSONANTS = frozenset(chr(c) for c in range(0x0E01, 0x0E2F))
LEADING_VOWELS = frozenset("เแโใไ")
# Written after a consonant or a word; sara am also belongs to its consonant's grapheme cluster.
FOLLOWING_SIGNS = frozenset("ะาำๅๆฯ")
_ATTACHED_TO_PREVIOUS = COMBINING | {SARA_AM}


def clip_text(text: str, max_length: int) -> str:
    """``text`` cut to at most ``max_length`` code points at a safe place ("" when there is none).

    The last space that keeps at least half the limit is preferred; otherwise the last grapheme
    boundary: never before a combining mark or sara am (they belong to the preceding consonant) and
    never right after a leading vowel (เ แ โ ใ ไ belong to the following consonant).
    """
    if len(text) <= max_length:
        return text
    space = text.rfind(" ", 0, max_length + 1)
    if space >= max(1, max_length // 2):
        return text[:space].rstrip()
    cut = next((i for i in range(max_length, 0, -1) if _is_cluster_boundary(text, i)), 0)
    return text[:cut]


def _is_cluster_boundary(text: str, i: int) -> bool:
    return text[i] not in _ATTACHED_TO_PREVIOUS and text[i - 1] not in LEADING_VOWELS


def has_orphan_mark(text: str) -> bool:
    """True when a combining mark starts the text or follows anything but a consonant or another mark."""
    previous = ""
    for ch in text:
        if is_combining(ch) and not (previous in THAI_CONSONANTS or is_combining(previous)):
            return True
        previous = ch
    return False
