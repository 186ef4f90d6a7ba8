"""Exported models without torch: the ONNX interface names, a CPU session, the self-description.

What serving and prediction need from an ``.onnx`` file lives here, so that reading text with an
exported model never imports PyTorch; ``export.py`` (which needs torch) writes what this reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import onnxruntime as ort

from thaiocr.errors import ThaiOCRError

ONNX_FORMAT = "thaiocr-onnx/1"
INPUT_NAME = "image"
OUTPUT_NAME = "probs"
DICT_FILENAME = "dict.txt"


def cpu_session(onnx_path: Path, num_threads: int | None = None) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU; ``num_threads`` None lets the runtime choose."""
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable models
        raise ThaiOCRError(f"{onnx_path}: not a loadable ONNX model ({exc})") from None


def decode_metadata(props: dict[str, str], source: Path) -> dict:
    """``{"character": [...], "thaiocr": {...}}`` from an exported model's metadata properties."""
    if "thaiocr" not in props or "character" not in props:
        raise ThaiOCRError(f"{source}: no thaiocr metadata; export the model with thaiocr")
    try:
        description = json.loads(props["thaiocr"])
    except json.JSONDecodeError:
        raise ThaiOCRError(f"{source}: the thaiocr metadata is not valid JSON") from None
    if not isinstance(description, dict) or description.get("format") != ONNX_FORMAT:
        raise ThaiOCRError(f"{source}: unsupported thaiocr metadata format (expected {ONNX_FORMAT!r})")
    return {"character": props["character"].split("\n"), "thaiocr": description}


def read_onnx_metadata(path: Path) -> dict:
    """The metadata of an exported model, as ``decode_metadata`` returns it."""
    path = Path(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise ThaiOCRError(f"{path}: ONNX model not found") from None
    except Exception as exc:  # onnx raises protobuf's DecodeError and others
        raise ThaiOCRError(f"{path}: not a readable ONNX model ({exc})") from None
    return decode_metadata({p.key: p.value for p in proto.metadata_props}, path)
