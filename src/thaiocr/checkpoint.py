"""Recogniser checkpoints: one ``torch.save``'d dict that carries weights, architecture, alphabet and input geometry.

Keys: ``format`` (``CHECKPOINT_FORMAT``), ``model`` (state dict), ``architecture`` (the Architecture
section as plain data), ``chars`` (the alphabet), ``preprocess`` (``height``, ``max_width``),
``config`` (the resolved recipe, may be empty), plus whatever training state the trainer adds.
Writing and the safe reading are the kernel's (:mod:`thaiocr.kernel.checkpoints`).
"""

from __future__ import annotations

from pathlib import Path

from thaiocr.charset import Charset, CharsetError
from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ConfigError
from thaiocr.kernel.checkpoints import CheckpointError, read_checkpoint, write_checkpoint
from thaiocr.model import CRNN, build_model
from thaiocr.modeldescription import ModelDescription
from thaiocr.preprocess import Preprocess

CHECKPOINT_FORMAT = "thaiocr-checkpoint/1"
REQUIRED_KEYS = ("model", "architecture", "chars", "preprocess")


def make_payload(model: CRNN, charset: Charset, preprocess: Preprocess, config: dict | None = None) -> dict:
    """The part of a checkpoint that describes the model; training state can be added to it."""
    description = ModelDescription(charset, preprocess, dict(model.architecture), config or {})
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        **description.checkpoint_fields(),
    }


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write a recogniser checkpoint atomically."""
    write_checkpoint(path, payload, CHECKPOINT_FORMAT)


def load_checkpoint(path: Path) -> dict:
    """Read a recogniser checkpoint safely; a missing, damaged or foreign file raises ``CheckpointError``."""
    payload = read_checkpoint(path, CHECKPOINT_FORMAT, "thaiocr checkpoint")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return payload


def model_from_checkpoint(payload: dict) -> tuple[CRNN, Charset, Preprocess]:
    """Rebuild the model (eval mode, on the CPU), its alphabet and its input geometry."""
    try:
        description = ModelDescription.from_checkpoint(payload)
        charset, preprocess = description.charset, description.preprocess
        model = build_model(ArchitectureConfig(**description.architecture), charset.num_classes)
        model.load_state_dict(payload["model"])
    except (CharsetError, ConfigError) as exc:
        raise CheckpointError(f"checkpoint does not describe a usable model: {exc}") from None
    except (TypeError, RuntimeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint weights do not fit its architecture and alphabet: {first_line}") from None
    return model.eval(), charset, preprocess
