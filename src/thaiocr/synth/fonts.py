"""Fonts for synthetic lines: discovery, character maps, and which font can render which text.

A font is only ever given text that every character of is in its cmap (no tofu boxes); fonts
known to place Thai marks wrongly are kept to text without marks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import metadata, resources
from itertools import chain
from pathlib import Path

from fontTools.ttLib import TTFont

from thaiocr.charset import THAI_DIGITS, is_combining
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write_text

SYSTEM_FONT_DIR = Path("/usr/share/fonts")
# Where `make setup` puts more open font families, Thai and Latin joined (scripts/fetch-web-fonts.sh).
ENVIRONMENT_FONT_DIR = Path(sys.prefix) / "share" / "fonts" / "thaiocr"
# Font families packaged as Python wheels (fontpkg-kanit, fontpkg-sarabun, ...) announce themselves
# under this entry-point group; their files are in the package's files/ folder.
FONT_PACKAGE_GROUP = "fontpkg.family"
FONT_SUFFIXES = frozenset({".ttf", ".otf", ".woff"})  # FreeType and fontTools read WOFF 1 as is
# Noto Looped Thai drops mai ek over sara ii even with raqm (docs/THAI.md): it would teach wrong shapes.
EXCLUDED_FONT_PREFIXES = ("NotoLoopedThai",)
# TlwgMono gives its Thai marks a full advance, and raqm draws each mark a cell to the right of its
# base: such fonts may only render text without combining marks (digits are fine).
MISPLACED_MARK_FONT_PREFIXES = ("TlwgMono",)
# Style words some files append to the family without a hyphen (FreeSerifBoldItalic.ttf).
STYLE_SUFFIX = re.compile(r"(Bold)?(Italic|Oblique)?$")
THAI_UNICODE_RANGE_BIT = 24  # OS/2 ulUnicodeRange1 bit a font sets when it claims the Thai block
# What discovery learnt of each font file, keyed by path and checked against its size and mtime:
# reading ~400 cmaps with fontTools took ~3 s at every start, the cache ~0.1 s.
FONT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "thaiocr" / "font-cmaps.json"
FONT_CACHE_VERSION = 1
FONT_INSTALL_HINT = (
    "install Thai fonts (make fonts, or apt-get install -y fonts-thai-tlwg fonts-noto-core) or pass a fonts folder"
)


@dataclass(frozen=True)
class FontInfo:
    """A font file and the characters its cmap maps."""

    path: Path
    name: str
    chars: frozenset[str]

    @cached_property
    def family(self) -> str:
        return family_of(self.name)


def family_of(face: str) -> str:
    """``Garuda`` for ``Garuda-BoldOblique`` or ``FreeSerif`` for ``FreeSerifBoldItalic``.

    Faces of one family share their letter shapes, so validation holds out whole families.
    """
    return STYLE_SUFFIX.sub("", face.split("-")[0]) or face


# Face names that are not body text: slanted, heavy or hairline (Kanit-BlackItalic, Sarabun-ExtraLight,
# Taviraj-100, Garuda-BoldOblique). What is left is what letters, forms and books are set in.
DISPLAY_STYLE = re.compile(r"Italic|Oblique|Bold|Black|Heavy|Thin|ExtraLight|UltraLight|Hairline|-(100|200|[6-9]00)")


def is_text_face(font: FontInfo) -> bool:
    """Whether ``font`` is an upright face of a body-text weight (regular, book, light, medium)."""
    return DISPLAY_STYLE.search(font.name.removeprefix(font.family)) is None


@cache
def read_font(path: Path) -> FontInfo:
    """Read a font's cmap (once per path) into a :class:`FontInfo` named after the file stem."""
    with TTFont(path, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return FontInfo(path=path, name=path.stem, chars=frozenset(map(chr, cmap)))


def discover_fonts(extra_dirs: Sequence[Path] = ()) -> list[FontInfo]:
    """Thai fonts (those with the Thai digits) under /usr/share/fonts, in installed font packages
    (:func:`package_font_dirs`), in the environment's ``share/fonts/thaiocr`` and in ``extra_dirs``, by name.

    A font in ``extra_dirs`` replaces one with the same name found before, so names stay unique.
    """
    folders = [Path(d) for d in extra_dirs]
    for folder in folders:
        if not folder.is_dir():
            raise ThaiOCRError(f"fonts folder {folder} does not exist")
    searched = [SYSTEM_FONT_DIR, *package_font_dirs(), ENVIRONMENT_FONT_DIR, *folders]
    by_name = {font.name: font for font in _readable_fonts(list(_font_files(searched)))}
    thai = [font for font in by_name.values() if _is_usable_thai_font(font)]
    if not thai:
        searched = ", ".join(str(f) for f in searched)
        raise ThaiOCRError(f"no Thai fonts found under {searched}: {FONT_INSTALL_HINT}")
    return sorted(thai, key=lambda font: font.name)


@cache
def package_font_dirs() -> tuple[Path, ...]:
    """The font folders of installed font-family wheels (the ``fontpkg.family`` entry points), sorted."""
    folders = set()
    for entry in metadata.entry_points(group=FONT_PACKAGE_GROUP):
        folder = Path(str(resources.files(entry.value))) / "files"
        if folder.is_dir():
            folders.add(folder)
    return tuple(sorted(folders))


def fonts_fingerprint(fonts: Iterable[FontInfo]) -> str:
    """A short hash of the fonts' names and character maps: it changes when a font gains or loses
    characters under the same name (set-up joining the Latin subset to a web font's Thai one)."""
    digest = hashlib.sha256()
    for font in sorted(fonts, key=lambda f: f.name):
        digest.update(f"{font.name}\t{''.join(sorted(font.chars))}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def font_covers(font: FontInfo, text: str) -> bool:
    """True when the font renders every character of ``text`` correctly (a space always counts)."""
    if font.name.startswith(MISPLACED_MARK_FONT_PREFIXES) and any(map(is_combining, text)):
        return False
    return font.chars.issuperset(text.replace(" ", ""))


def _font_files(folders: Iterable[Path]) -> Iterator[Path]:
    for folder in folders:
        if folder.is_dir():
            files = (p for p in folder.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file())
            yield from sorted(files)


def _readable_fonts(paths: list[Path]) -> list[FontInfo]:
    """The fonts of ``paths`` that may cover Thai, from the cache where a file is unchanged."""
    cached = _load_font_cache(FONT_CACHE)
    entries, fonts = {}, []
    for path in paths:
        try:
            entry, chars = _font_entry(path, cached.get(str(path)))
        except Exception as exc:  # fontTools raises many exception types on a damaged file
            warnings.warn(f"{path}: skipped, fontTools cannot read it ({exc})", stacklevel=2)
            continue
        entries[str(path)] = entry
        if chars is not None:
            fonts.append(FontInfo(path=path, name=path.stem, chars=chars))
    if any(cached.get(key) != entry for key, entry in entries.items()):
        _save_font_cache(FONT_CACHE, cached, entries)
    return fonts


# A cache entry, as JSON keeps it: [file size, mtime in ns, the cmap as code point runs
# [start, stop, start, stop, ...]], the runs None for a font whose OS/2 table says it lacks Thai.
_CacheEntry = list


def _font_entry(path: Path, cached: _CacheEntry | None) -> tuple[_CacheEntry, frozenset[str] | None]:
    """``(entry, cmap characters or None)``: from ``cached`` while the file's size and mtime match."""
    stat = path.stat()
    stamp = [stat.st_size, stat.st_mtime_ns]
    if isinstance(cached, list) and len(cached) == 3 and cached[:2] == stamp:
        try:
            return cached, _chars_of_runs(cached[2])
        except (TypeError, ValueError):
            pass  # a damaged entry: read the file again
    if not _may_cover_thai(path):
        return [*stamp, None], None
    chars = read_font(path).chars
    return [*stamp, _code_point_runs(chars)], chars


def _code_point_runs(chars: frozenset[str]) -> list[int]:
    """Sorted code points as flat ``[start, stop)`` pairs: a cmap's thousands of entries in a few dozen runs."""
    runs: list[int] = []
    for point in sorted(map(ord, chars)):
        if runs and runs[-1] == point:
            runs[-1] += 1
        else:
            runs += [point, point + 1]
    return runs


def _chars_of_runs(runs: list[int] | None) -> frozenset[str] | None:
    """The inverse of :func:`_code_point_runs` (None stays None); raises on runs that are not pairs of code points."""
    if runs is None:
        return None
    if len(runs) % 2:
        raise ValueError("odd number of run bounds")
    return frozenset(map(chr, chain.from_iterable(map(range, runs[::2], runs[1::2]))))


def _load_font_cache(path: Path) -> dict[str, _CacheEntry]:
    """The cached entries by path; an unreadable, corrupt or older-version cache counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != FONT_CACHE_VERSION or not isinstance(
            data.get("fonts"), dict):
        return {}
    return data["fonts"]


def _save_font_cache(path: Path, cached: dict[str, _CacheEntry], entries: dict[str, _CacheEntry]) -> None:
    """Write ``entries`` over ``cached``, keeping the cached files that still exist (other font folders).

    The write is atomic, so a concurrent reader sees the old or the new cache; one that cannot be
    written (a read-only home) only costs the next start its speed.
    """
    kept = {key: entry for key, entry in cached.items() if key not in entries and Path(key).is_file()}
    data = {"version": FONT_CACHE_VERSION, "fonts": {**kept, **entries}}
    with suppress(OSError):
        atomic_write_text(path, json.dumps(data, separators=(",", ":")))


@cache
def _may_cover_thai(path: Path) -> bool:
    """False for fonts whose OS/2 table says they lack Thai: 10x cheaper than reading the cmap.

    Debian's Noto packages hold ~2,000 files, of which ~200 claim Thai; a font without an OS/2
    table is read in full.
    """
    with TTFont(path, lazy=True) as font:
        if "OS/2" not in font:
            return True
        return bool(font["OS/2"].ulUnicodeRange1 >> THAI_UNICODE_RANGE_BIT & 1)


def _is_usable_thai_font(font: FontInfo) -> bool:
    return font_covers(font, THAI_DIGITS) and not font.name.startswith(EXCLUDED_FONT_PREFIXES)


# --- coverage report ----------------------------------------------------------------------------

THAI_BLOCK = "".join(chr(c) for c in range(0x0E01, 0x0E5C) if not 0x0E3B <= c <= 0x0E3E)  # the 87 assigned
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))  # the space always counts as covered


@dataclass(frozen=True)
class FontCoverage:
    """How much of the Thai block, printable ASCII and a dict one font can render."""

    name: str
    family: str
    thai: int
    ascii: int
    dict_covered: int
    dict_size: int
    missing: str  # dict characters the font lacks, in dict order
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def font_coverage(font: FontInfo, dict_chars: Sequence[str]) -> FontCoverage:
    usable = [ch for ch in dict_chars if ch == " " or font_covers(font, ch)]
    missing = "".join(ch for ch in dict_chars if ch not in usable)
    note = "marks drawn beside their base: used for text without marks" if font.name.startswith(
        MISPLACED_MARK_FONT_PREFIXES) else ""
    return FontCoverage(
        name=font.name,
        family=font.family,
        thai=sum(ch in font.chars for ch in THAI_BLOCK),
        ascii=sum(ch in font.chars for ch in PRINTABLE_ASCII),
        dict_covered=len(usable),
        dict_size=len(dict_chars),
        missing=missing,
        note=note,
    )
