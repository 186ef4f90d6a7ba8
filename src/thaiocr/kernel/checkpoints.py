"""Checkpoint files: one ``torch.save``'d dict of tensors and plain Python values, tagged with a
``format`` string (a recogniser's, a detector's), written atomically and read with
``weights_only=True``, so opening a checkpoint never runs code from it."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write


class CheckpointError(ThaiOCRError):
    """A checkpoint that is missing, damaged, or not a thaiocr checkpoint."""


def write_checkpoint(path: Path, payload: dict, fmt: str) -> None:
    """Write atomically: ``path`` holds the old checkpoint or the new one, never half of one."""
    atomic_write(Path(path), lambda stream: torch.save({"format": fmt, **payload}, stream))


def read_checkpoint(path: Path, fmt: str, kind: str) -> dict:
    """Any thaiocr checkpoint of format ``fmt`` (``kind`` names it in errors), loaded with ``weights_only``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise CheckpointError(f"{path}: holds objects a safe load refuses; not a {kind}") from None
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError):
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt)") from None
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        raise CheckpointError(f"{path}: not a {kind} (expected format {fmt!r})")
    return payload
