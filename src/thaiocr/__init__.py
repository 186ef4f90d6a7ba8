"""thaiocr: build, judge and use Thai OCR models.

The public face, for ``from thaiocr import Recognizer``::

    Recognizer   read text lines (thaiocr.predict)
    PageReader   find and read the lines of a page (thaiocr.page)
    load_config  read and check a training recipe (thaiocr.config)
    Charset      an alphabet: its characters, their order and fingerprint (thaiocr.charset)

They load on first use, so ``import thaiocr`` (and ``thaiocr --help``) pulls in neither PyTorch
nor ONNX Runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "Recognizer": "thaiocr.predict",
    "PageReader": "thaiocr.page",
    "load_config": "thaiocr.config",
    "Charset": "thaiocr.charset",
}
__all__ = ["Charset", "PageReader", "Recognizer", "__version__", "load_config"]

if TYPE_CHECKING:
    from thaiocr.charset import Charset
    from thaiocr.config import load_config
    from thaiocr.page import PageReader
    from thaiocr.predict import Recognizer


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'thaiocr' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
