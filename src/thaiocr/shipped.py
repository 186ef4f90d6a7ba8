"""Where the package's shipped recogniser lives, and ``shipped``, the name recipes and commands give it.

A leaf module, so that config loading (``Global.pretrained_model: shipped``), the CLI
(``--pretrained shipped``) and prediction (``Recognizer()``) agree without importing each other.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_MODEL = "thai_general"  # src/thaiocr/resources/models/<this>/
SHIPPED_ALIAS = "shipped"


def shipped_model_dir() -> Path:
    """The shipped model's folder (inference.onnx, dict.txt, config.yml, model.pt, MODEL_CARD.md)."""
    return Path(str(resources.files("thaiocr") / "resources" / "models" / SHIPPED_MODEL))


def pretrained_folder(name: str | Path) -> Path:
    """What ``--pretrained`` names, as an absolute path: ``shipped`` is the shipped model's folder
    (its weights are there as ``model.pt``); anything else a path from the current folder."""
    return shipped_model_dir() if str(name) == SHIPPED_ALIAS else Path(name).absolute()
