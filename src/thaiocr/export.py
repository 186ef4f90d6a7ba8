"""ONNX export that PaddleOCR-style runtimes (RapidOCR) can use, with the model's description inside.

The graph takes ``image`` ``[N, 3, H, W]`` (dynamic batch and width) and returns ``probs``
``[N, T, C]`` with the softmax applied. Metadata: ``character`` holds the dict lines joined by
newlines (the key RapidOCR reads); ``thaiocr`` holds JSON with the preprocessing, alphabet
fingerprint, class count and architecture, so that one file is enough to serve the model.
A ``dict.txt`` is written beside the ``.onnx`` for tools that want a dict file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from thaiocr.charset import Charset
from thaiocr.checkpoint import load_checkpoint, model_from_checkpoint
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write_bytes, atomic_write_text
from thaiocr.kernel.onnxexport import check_parity as kernel_parity
from thaiocr.kernel.onnxexport import onnx_graph
from thaiocr.model import CRNN
from thaiocr.modeldescription import ModelDescription
from thaiocr.onnxmodel import DICT_FILENAME, INPUT_NAME, OUTPUT_NAME
from thaiocr.preprocess import Preprocess
from thaiocr.runfolder import ONNX_NAME


class _WithSoftmax(nn.Module):
    def __init__(self, model: CRNN) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(images), dim=2)


def export_onnx(model: CRNN, charset: Charset, preprocess: Preprocess, out_path: Path,
                config: dict | None = None) -> Path:
    """Write ``out_path`` (ONNX with metadata) and ``dict.txt`` beside it; the caller's model is untouched."""
    if model.num_classes != charset.num_classes:
        raise ThaiOCRError(
            f"model has {model.num_classes} outputs but the alphabet needs {charset.num_classes}: "
            "model and dict do not match"
        )
    out_path = Path(out_path)
    metadata = ModelDescription(charset, preprocess, model.architecture, config or {}).onnx_metadata()
    atomic_write_bytes(out_path, _trace_to_onnx(model, preprocess, metadata))
    atomic_write_text(out_path.parent / DICT_FILENAME, charset.dict_text())
    return out_path


def _trace_to_onnx(model: CRNN, preprocess: Preprocess, metadata: dict[str, str]) -> bytes:
    # A CPU copy in the default memory format: the caller's model keeps its device, mode and layout.
    exported = _WithSoftmax(copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format)).eval()
    example = torch.zeros(2, 3, preprocess.height, preprocess.max_width)
    axes = {INPUT_NAME: {0: "batch", 3: "width"}, OUTPUT_NAME: {0: "batch", 1: "time"}}
    return onnx_graph(exported, example, (INPUT_NAME, OUTPUT_NAME), axes, metadata)


def check_parity(model: CRNN, onnx_path: Path, batch: np.ndarray) -> float:
    """Max |PyTorch - ONNX Runtime| over the probabilities of ``batch`` (float32 ``[N, 3, H, W]``)."""
    return kernel_parity(model, onnx_path, batch, (INPUT_NAME, OUTPUT_NAME), lambda y: torch.softmax(y, dim=2))


def write_inference_bundle(model: CRNN, charset: Charset, preprocess: Preprocess, out_dir: Path, config: dict,
                           batch: np.ndarray | None = None) -> tuple[Path, float]:
    """``out_dir/inference.onnx`` + ``dict.txt`` + ``config.yml``, and the parity against PyTorch.

    Parity is measured on ``batch`` (real images, when the caller has them) or else on a random
    batch at the full input width.
    """
    out_dir = Path(out_dir)
    path = export_onnx(model, charset, preprocess, out_dir / ONNX_NAME, config=config)
    if config:
        atomic_write_text(out_dir / "config.yml", yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
    return path, check_parity(model, path, random_batch(preprocess) if batch is None else batch)


def export_checkpoint(checkpoint_path: Path, out_dir: Path) -> tuple[Path, float]:
    """Export a ``.pt`` checkpoint to ``out_dir`` as an inference bundle (see write_inference_bundle)."""
    payload = load_checkpoint(checkpoint_path)
    model, charset, preprocess = model_from_checkpoint(payload)
    return write_inference_bundle(model, charset, preprocess, out_dir, payload.get("config") or {})


def random_batch(preprocess: Preprocess, size: int = 2, seed: int = 0) -> np.ndarray:
    """Inputs in the normalised range [-1, 1], for parity checks when no real images are at hand."""
    rng = np.random.default_rng(seed)
    shape = (size, 3, preprocess.height, preprocess.max_width)
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
