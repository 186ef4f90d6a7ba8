"""The source tarball a job installs thaiocr from: ``pyproject.toml``, ``README.md``, ``src/thaiocr/``.

Like an sdist, plus ``thaiocr_entry.py`` (a copy of ``sagemaker_entry.py``) at its root for the
prebuilt image's training toolkit to run. The archive is reproducible: sorted members, fixed times
and owners, so the same source gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write

ENTRY_SCRIPT = "thaiocr_entry.py"
FIXED_MTIME = 1_600_000_000  # any constant will do; it keeps the archive's bytes reproducible
SKIPPED_PARTS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def source_root() -> Path:
    """The checkout thaiocr runs from (``pyproject.toml`` + ``src/thaiocr``); a job ships its source."""
    import thaiocr

    package = Path(thaiocr.__file__).resolve().parent
    root = package.parent.parent
    pyproject = root / "pyproject.toml"
    if package.parent.name != "src" or not pyproject.is_file() or 'name = "thaiocr"' not in pyproject.read_text():
        raise ThaiOCRError(
            f"thaiocr runs from {package}, not from a source checkout, so there is no source to ship "
            "with the job: install it with `pip install -e .` from a checkout, or pass --image with "
            "an image that has thaiocr installed (see Dockerfile.sagemaker)"
        )
    return root


def _members(root: Path) -> Iterator[tuple[str, Path]]:
    """``(name in the archive, file)`` for everything the tarball holds, sorted by name."""
    files = [("pyproject.toml", root / "pyproject.toml")]
    if (root / "README.md").is_file():
        files.append(("README.md", root / "README.md"))
    package = root / "src" / "thaiocr"
    for path in package.rglob("*"):
        if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix not in SKIPPED_SUFFIXES:
            files.append((path.relative_to(root).as_posix(), path))
    files.append((ENTRY_SCRIPT, package / "cloud" / "sagemaker_entry.py"))
    yield from sorted(files)


def _write_tar(stream: IO[bytes], root: Path) -> None:
    with gzip.GzipFile(fileobj=stream, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, path in _members(root):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))


def build_source_tarball(dest: Path, root: Path | None = None) -> Path:
    """Write the tarball of ``root`` (default: the running checkout) to ``dest``."""
    root = root or source_root()
    return atomic_write(Path(dest), lambda stream: _write_tar(stream, root))
