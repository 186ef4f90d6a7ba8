"""Atomic writes: a temp file in the same folder, flushed to disk, then renamed over the target.

A reader (or a run resumed after SIGKILL) sees either the old file or the new one, never half.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def _file_mode() -> int:
    """The mode ``open()`` gives a new file (0o666 less the umask); ``mkstemp`` would give 0o600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()  # read once: changing the umask is process-wide and not thread-safe


# The temp files of atomic_write: ``.NAME.`` + mkstemp's 8 random characters + ``.tmp``. A process
# killed mid-write (SIGKILL, power loss) leaves one behind; nothing else removes it.
TEMP_FILE = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(stream)`` on a temp file beside ``path`` and move it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, FILE_MODE)
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files an interrupted :func:`atomic_write` left in ``folder`` (not below it);
    the paths removed. Call it only where no other process is writing into the folder."""
    if not Path(folder).is_dir():
        return []
    stale = [path for path in Path(folder).iterdir() if TEMP_FILE.fullmatch(path.name) and path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda stream: stream.write(data))


def atomic_copy(source: Path, target: Path) -> Path:
    with open(source, "rb") as stream:
        return atomic_write(target, lambda out: shutil.copyfileobj(stream, out))


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


class NotUTF8(ValueError):
    """Bytes that are not UTF-8: ``line`` (1-based) and ``byte`` say where, for the error message."""

    def __init__(self, line: int, byte: int) -> None:
        super().__init__(f"not UTF-8: byte {byte:#04x} on line {line}")
        self.line = line
        self.byte = byte


def decode_utf8(raw: bytes) -> str:
    """UTF-8 text, a leading BOM dropped; :class:`NotUTF8` names the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUTF8(raw[: exc.start].count(b"\n") + 1, raw[exc.start]) from None
