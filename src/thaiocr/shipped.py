"""The recognisers shipped in the package, and the names recipes and commands give them.

``shipped`` is the general printed-Thai model (``Recognizer()``, ``thaiocr predict`` without
``--model``); ``shipped-small`` a smaller, faster one trained the same way, which the digits demo
fine-tunes because its steps cost less. A leaf module, so that config loading
(``Global.pretrained_model: shipped``), the CLI (``--pretrained``, ``--model``) and prediction agree
without importing each other. ``ppocrv4`` names a starting point for ``--pretrained`` only:
PaddleOCR's PP-OCRv4 recogniser inside the installed `rapidocr-onnxruntime` wheel (see
thaiocr.paddleweights).
"""

from __future__ import annotations

from importlib import resources
from importlib.util import find_spec
from pathlib import Path

SHIPPED_ALIAS = "shipped"
SHIPPED_MODELS = {  # name -> folder under src/thaiocr/resources/models/
    SHIPPED_ALIAS: "thai_general",
    "shipped-small": "thai_general_small",
}

PPOCRV4_NAME = "ppocrv4"
PPOCRV4_WHEEL = ("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx")  # package, file inside it


def is_shipped_name(value: str | Path | None) -> bool:
    return value is not None and str(value) in SHIPPED_MODELS


def is_pretrained_name(value: str | Path | None) -> bool:
    """A name ``--pretrained`` takes: a shipped model's or ``ppocrv4``."""
    return is_shipped_name(value) or str(value) == PPOCRV4_NAME


def shipped_model_dir(name: str = SHIPPED_ALIAS) -> Path:
    """A shipped model's folder (inference.onnx, dict.txt, config.yml, model.pt, MODEL_CARD.md)."""
    return Path(str(resources.files("thaiocr") / "resources" / "models" / SHIPPED_MODELS[name]))


def pretrained_folder(name: str | Path) -> Path:
    """What ``--pretrained`` names, as an absolute path: a shipped name is that model's folder
    (its weights are there as ``model.pt``), ``ppocrv4`` the wheel's ONNX file (whether or not it is
    installed: fine-tuning says so); anything else a path from the current folder."""
    if str(name) == PPOCRV4_NAME:
        return ppocrv4_file()
    return shipped_model_dir(str(name)) if is_shipped_name(name) else Path(name).absolute()


def ppocrv4_file() -> Path:
    """Where the installed `rapidocr-onnxruntime` wheel keeps PP-OCRv4's recogniser."""
    package, inside = PPOCRV4_WHEEL
    spec = find_spec(package)
    folder = Path(spec.origin).parent if spec and spec.origin else Path(f"<{package} is not installed>")
    return folder / inside
