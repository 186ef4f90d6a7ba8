"""One description of a trained recogniser, written and read by its checkpoint and its ONNX export.

What a model is: its alphabet, its input geometry, its architecture (the recipe's Architecture
section as plain data) and its origin (the recipe it was trained with; in an export, also the thaiocr
version that wrote it). A checkpoint keeps it as the keys ``architecture``, ``chars``, ``preprocess``
and ``config``; an ONNX file as the metadata entries ``character`` (a character a line) and
``thaiocr`` (JSON, with the alphabet's ``charset_sha256`` and ``num_classes`` to check it against).
Both layouts are those earlier versions wrote, so their models load unchanged. No torch here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from thaiocr import __version__
from thaiocr.charset import Charset, CharsetError
from thaiocr.errors import ThaiOCRError
from thaiocr.onnxmodel import ONNX_FORMAT, decode_metadata
from thaiocr.preprocess import Preprocess


@dataclass(frozen=True)
class ModelDescription:
    charset: Charset
    preprocess: Preprocess
    architecture: dict
    config: dict = field(default_factory=dict)
    thaiocr_version: str | None = None  # of the export; a checkpoint does not record it
    quantization: dict | None = None  # how an int8 export was made (thaiocr.quantize); None: float32

    def checkpoint_fields(self) -> dict:
        return {
            "architecture": dict(self.architecture),
            "chars": list(self.charset.chars),
            "preprocess": {"height": self.preprocess.height, "max_width": self.preprocess.max_width},
            "config": self.config,
        }

    @classmethod
    def from_checkpoint(cls, payload: Mapping) -> ModelDescription:
        """Raises ``CharsetError`` for an unusable alphabet, ``TypeError`` for a malformed geometry."""
        return cls(Charset(tuple(payload["chars"])), Preprocess(**payload["preprocess"]),
                   dict(payload["architecture"]), payload.get("config") or {})

    def onnx_metadata(self) -> dict[str, str]:
        description = {
            "format": ONNX_FORMAT,
            "thaiocr_version": __version__,
            "preprocess": self.preprocess.metadata(),
            "charset_sha256": self.charset.sha256,
            "num_classes": self.charset.num_classes,
            "architecture": self.architecture,
            "config": self.config,
            **({"quantization": self.quantization} if self.quantization else {}),
        }
        return {"character": "\n".join(self.charset.chars), "thaiocr": json.dumps(description, ensure_ascii=False)}

    @classmethod
    def from_onnx_metadata(cls, props: Mapping[str, str], source: Path) -> ModelDescription:
        """The description an export carries, its alphabet checked against its fingerprint."""
        metadata = decode_metadata(dict(props), source)
        try:
            charset = Charset(tuple(metadata["character"]))
        except CharsetError as exc:
            raise ThaiOCRError(f"{source}: the alphabet in the metadata is unusable: {exc}") from None
        described = metadata["thaiocr"]
        if described.get("charset_sha256") != charset.sha256 or described.get("num_classes") != charset.num_classes:
            raise ThaiOCRError(f"{source}: the metadata's alphabet does not match its own fingerprint")
        preprocess = Preprocess(**{key: described["preprocess"][key] for key in ("height", "max_width")})
        return cls(charset, preprocess, described.get("architecture") or {}, described.get("config") or {},
                   described.get("thaiocr_version"), described.get("quantization"))
