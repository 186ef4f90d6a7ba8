"""Checkpoints: one ``torch.save``'d dict that carries weights, architecture, alphabet and input geometry.

Keys: ``format`` (``CHECKPOINT_FORMAT``), ``model`` (state dict), ``architecture`` (the Architecture
section as plain data), ``chars`` (the alphabet), ``preprocess`` (``height``, ``max_width``),
``config`` (the resolved recipe, may be empty), plus whatever training state the trainer adds.
Everything is tensors and plain Python values, so loading uses ``weights_only=True``: opening a
checkpoint never runs code from it.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from thaiocr.charset import Charset, CharsetError
from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ConfigError, ThaiOCRError
from thaiocr.fileio import atomic_write
from thaiocr.model import CRNN, build_model
from thaiocr.preprocess import Preprocess

CHECKPOINT_FORMAT = "thaiocr-checkpoint/1"
REQUIRED_KEYS = ("model", "architecture", "chars", "preprocess")


class CheckpointError(ThaiOCRError):
    """A checkpoint that is missing, damaged, or not a thaiocr checkpoint."""


def make_payload(model: CRNN, charset: Charset, preprocess: Preprocess, config: dict | None = None) -> dict:
    """The part of a checkpoint that describes the model; training state can be added to it."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "architecture": dict(model.architecture),
        "chars": list(charset.chars),
        "preprocess": {"height": preprocess.height, "max_width": preprocess.max_width},
        "config": config or {},
    }


def save_checkpoint(path: Path, payload: dict, fmt: str = CHECKPOINT_FORMAT) -> None:
    """Write atomically: ``path`` holds the old checkpoint or the new one, never half of one."""
    atomic_write(Path(path), lambda stream: torch.save({"format": fmt, **payload}, stream))


def load_checkpoint(path: Path) -> dict:
    """Read a recogniser checkpoint safely; a missing, damaged or foreign file raises ``CheckpointError``."""
    payload = read_checkpoint(path, CHECKPOINT_FORMAT, "thaiocr checkpoint")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return payload


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


def model_from_checkpoint(payload: dict) -> tuple[CRNN, Charset, Preprocess]:
    """Rebuild the model (eval mode, on the CPU), its alphabet and its input geometry."""
    try:
        charset = Charset(tuple(payload["chars"]))
        architecture = ArchitectureConfig(**payload["architecture"])
        preprocess = Preprocess(**payload["preprocess"])
        model = build_model(architecture, charset.num_classes)
        model.load_state_dict(payload["model"])
    except (CharsetError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint does not describe a usable model: {exc}") from None
    except (TypeError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint weights do not fit its architecture and alphabet: {first_line}") from None
    return model.eval(), charset, preprocess
