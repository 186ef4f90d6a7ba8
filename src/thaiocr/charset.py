"""The alphabet: dict files, Thai label normalisation, encoding and CTC greedy decoding.

This module is the single source of truth for which characters a model can read and for the
number of classes its head needs (``Charset.num_classes``). Class 0 is the CTC blank, as in
PaddleOCR; class ``i`` (``i >= 1``) is ``chars[i - 1]``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from thaiocr.errors import ThaiOCRError, did_you_mean
from thaiocr.fileio import NotUTF8, decode_utf8

# --- Thai script facts (see docs/THAI.md) -------------------------------------------------------

THAI_CODE_POINTS: tuple[str, ...] = tuple(
    chr(c) for c in [*range(0x0E01, 0x0E3B), *range(0x0E3F, 0x0E5C)]
)
THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
ARABIC_DIGITS = "0123456789"
DIGIT_PUNCTUATION = ",./-:"
SPACE_RUN = re.compile(" {2,}")
PRINTABLE_ASCII: tuple[str, ...] = tuple(chr(c) for c in range(0x20, 0x7F))

SARA_AM = "\u0e33"
NIKHAHIT = "\u0e4d"
SARA_AA = "\u0e32"
TONE_MARKS = frozenset("\u0e48\u0e49\u0e4a\u0e4b")
# Vowels written above or below the consonant; a tone mark belongs after them.
UPPER_LOWER_VOWELS = frozenset("\u0e31\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a")
COMBINING = frozenset(chr(c) for c in [0x0E31, *range(0x0E34, 0x0E3B), *range(0x0E47, 0x0E4F)])

BUILTIN_DICTS = {
    "digits": "digits_dict.txt",
    "thai_full": "thai_full_dict.txt",
}


def builtin_dict_chars(name: str) -> list[str]:
    """The characters of a built-in dict, computed from the facts above (the files are generated)."""
    if name == "digits":
        return [*ARABIC_DIGITS, *THAI_DIGITS, *DIGIT_PUNCTUATION, " "]
    if name == "thai_full":
        return [*THAI_CODE_POINTS, *PRINTABLE_ASCII]
    raise ThaiOCRError(f"unknown built-in dict {name!r}; choose one of {sorted(BUILTIN_DICTS)}")


def write_builtin_dicts(folder: Path) -> list[Path]:
    """Write every built-in dict file into ``folder`` (used to generate ``resources/``)."""
    written = []
    for name, filename in BUILTIN_DICTS.items():
        path = folder / filename
        path.write_text("".join(ch + "\n" for ch in builtin_dict_chars(name)), encoding="utf-8")
        written.append(path)
    return written


def is_combining(ch: str) -> bool:
    """True for Thai marks that stack above or below their base and take no width of their own."""
    return ch in COMBINING


# --- normalisation ------------------------------------------------------------------------------


def normalize_text(text: str) -> str:
    """Put Thai text in one canonical form, so labels, predictions and metrics agree.

    Rules: Unicode NFC; nikhahit + sara aa (optionally with a tone mark between or before them)
    becomes the single sara am after the tone mark; a tone mark typed before an upper or lower
    vowel moves after it; a combining mark repeated on the same base is kept once.
    """
    text = unicodedata.normalize("NFC", text)
    while True:  # one pass can make work for another (a tone moved past a vowel meets its twin): repeat
        normalized = _drop_repeated_marks(_tone_after_vowel(_compose_sara_am(text)))
        if normalized == text:
            return normalized
        text = normalized


def _compose_sara_am(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == NIKHAHIT:
            j = i + 1
            tone = ""
            if j < len(text) and text[j] in TONE_MARKS:
                tone, j = text[j], j + 1
            if j < len(text) and text[j] == SARA_AA:
                out.append(tone + SARA_AM)
                i = j + 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tone_after_vowel(text: str) -> str:
    chars = list(text)
    for i in range(len(chars) - 1):
        if chars[i] in TONE_MARKS and chars[i + 1] in UPPER_LOWER_VOWELS:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def _drop_repeated_marks(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if is_combining(ch) and out and out[-1] == ch:
            continue
        out.append(ch)
    return "".join(out)


# --- the alphabet -------------------------------------------------------------------------------


class CharsetError(ThaiOCRError):
    """A dict file or a label does not fit the alphabet."""


@dataclass(frozen=True)
class Charset:
    """An ordered alphabet; index 0 of the model's output is the CTC blank."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for ch in self.chars:
            if len(ch) != 1:
                raise CharsetError(f"dict entry {ch!r} is not a single code point")
            if ch in seen:
                raise CharsetError(f"dict entry {ch!r} appears twice")
            seen.add(ch)
        object.__setattr__(self, "_index", {ch: i + 1 for i, ch in enumerate(self.chars)})

    # construction

    @classmethod
    def from_dict_file(cls, path: str | Path, use_space_char: bool = False) -> Charset:
        """Read a PaddleOCR dict file: UTF-8, one code point per line, only the newline stripped."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CharsetError(f"{path}: cannot read dict file ({exc.strerror})") from None
        try:
            text = decode_utf8(raw)
        except NotUTF8 as exc:
            raise CharsetError(f"{path}:{exc.line}: dict file is not UTF-8") from None
        chars: list[str] = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            entry = line.rstrip("\r")
            if entry == "":
                continue
            if len(entry) != 1:
                raise CharsetError(
                    f"{path}:{lineno}: dict entry {entry!r} has {len(entry)} code points; "
                    "each line must hold exactly one"
                )
            if entry in chars:
                raise CharsetError(f"{path}:{lineno}: dict entry {entry!r} appears twice")
            chars.append(entry)
        return cls.from_chars(chars, use_space_char)

    @classmethod
    def from_chars(cls, chars: list[str] | tuple[str, ...], use_space_char: bool = False) -> Charset:
        chars = list(chars)
        if use_space_char and " " not in chars:
            chars.append(" ")
        if not chars:
            raise CharsetError("the alphabet is empty")
        return cls(tuple(chars))

    @classmethod
    def builtin(cls, name: str, use_space_char: bool = False) -> Charset:
        return cls.from_chars(builtin_dict_chars(name), use_space_char)

    # facts

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self._index  # type: ignore[attr-defined]

    @property
    def num_classes(self) -> int:
        """Size of the model's output layer: every character plus the CTC blank."""
        return len(self.chars) + 1

    @property
    def sha256(self) -> str:
        """A short fingerprint of the alphabet, to tell dicts apart in logs; an export's metadata checks
        its alphabet by it (``charset_sha256``), so it stays as exports have always written it."""
        return hashlib.sha256("\n".join(self.chars).encode("utf-8")).hexdigest()[:16]

    @property
    def dict_sha256(self) -> str:
        """The sha256 of the alphabet's dict file, as ``sha256sum dict.txt`` prints it."""
        return hashlib.sha256(self.dict_text().encode("utf-8")).hexdigest()

    def dict_text(self) -> str:
        """The alphabet as a dict file's text (the space, if present, is a line of its own)."""
        return "".join(ch + "\n" for ch in self.chars)

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of ``text`` the alphabet lacks, in order of first appearance."""
        return list(dict.fromkeys(ch for ch in text if ch not in self._index))  # type: ignore[attr-defined]

    # encoding and decoding

    def encode(self, text: str) -> list[int]:
        """Class ids of ``text`` (already normalised); raises on a character outside the alphabet."""
        missing = self.unknown_chars(text)
        if missing:
            raise CharsetError(f"characters not in the alphabet: {' '.join(map(repr, missing))}")
        index = self._index  # type: ignore[attr-defined]
        return [index[ch] for ch in text]

    def decode_ids(self, ids: list[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids if i > 0)

    def decode_greedy(self, probs: np.ndarray) -> list[tuple[str, float]]:
        """CTC greedy decoding of ``[N, T, C]`` probabilities.

        Per line: the best class at each step, repeats collapsed, blanks dropped. The confidence is
        the mean probability of the kept steps (1.0 for an empty result, which nothing contradicts).
        Spaces are tidied as a line's text has them: a run of them is one space (a wide gap can
        give "space, blank, space"), and none starts or ends the line.
        """
        if probs.ndim != 3 or probs.shape[2] != self.num_classes:
            raise CharsetError(
                f"model output has shape {tuple(probs.shape)}, expected [N, T, {self.num_classes}] "
                f"for this alphabet of {len(self)} characters: model and dict do not match"
            )
        best = probs.argmax(axis=2)
        best_p = probs.max(axis=2)
        results = []
        for ids, ps in zip(best, best_p, strict=True):
            keep = ids != 0
            keep[1:] &= ids[1:] != ids[:-1]
            text = SPACE_RUN.sub(" ", "".join(self.chars[i - 1] for i in ids[keep])).strip(" ")
            conf = float(ps[keep].mean()) if keep.any() else 1.0
            results.append((text, conf))
        return results


def load_charset(dict_path: str | Path, use_space_char: bool = False) -> Charset:
    """A charset from a built-in dict name (``digits``, ``thai_full``) or a dict file path."""
    key = str(dict_path)
    if key in BUILTIN_DICTS:
        ref = resources.files("thaiocr") / "resources" / BUILTIN_DICTS[key]
        with resources.as_file(ref) as path:
            return Charset.from_dict_file(path, use_space_char)
    if not Path(dict_path).exists():  # perhaps a misspelt built-in name, taken for a path
        raise CharsetError(f"{dict_path}: no such dict file, nor a built-in dict"
                           f"{did_you_mean(Path(dict_path).name, BUILTIN_DICTS)}")
    return Charset.from_dict_file(dict_path, use_space_char)
