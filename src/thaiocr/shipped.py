"""The recognisers shipped in the package, and the names recipes and commands give them.

``shipped`` is the general printed-Thai model (``Recognizer()``, ``thaiocr predict`` without
``--model``); ``shipped-small`` a smaller, faster one trained the same way, which the digits demo
fine-tunes because its steps cost less. A leaf module, so that config loading
(``Global.pretrained_model: shipped``), the CLI (``--pretrained``, ``--model``) and prediction agree
without importing each other.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_ALIAS = "shipped"
SHIPPED_MODELS = {  # name -> folder under src/thaiocr/resources/models/
    SHIPPED_ALIAS: "thai_general",
    "shipped-small": "thai_general_small",
}


def is_shipped_name(value: str | Path | None) -> bool:
    return value is not None and str(value) in SHIPPED_MODELS


def shipped_model_dir(name: str = SHIPPED_ALIAS) -> Path:
    """A shipped model's folder (inference.onnx, dict.txt, config.yml, model.pt, MODEL_CARD.md)."""
    return Path(str(resources.files("thaiocr") / "resources" / "models" / SHIPPED_MODELS[name]))


def pretrained_folder(name: str | Path) -> Path:
    """What ``--pretrained`` names, as an absolute path: a shipped name is that model's folder
    (its weights are there as ``model.pt``); anything else a path from the current folder."""
    return shipped_model_dir(str(name)) if is_shipped_name(name) else Path(name).absolute()
