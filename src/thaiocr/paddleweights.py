"""Weights of a PaddleOCR PP-OCRv4 mobile recogniser exported to ONNX (paddle2onnx), as a checkpoint.

The `rapidocr-onnxruntime` wheel, which thaiocr installs for its page detector, also ships
PaddleOCR's Chinese/English PP-OCRv4 recogniser (`models/ch_PP-OCRv4_rec_infer.onnx`, Apache-2.0):
``Global.pretrained_model: ppocrv4`` (``--pretrained ppocrv4``) starts a run of the matching
architecture (``PPLCNetV3`` + ``SVTREncoder``, see configs/rec/thai_ppocrv4.yml) from it, and any
other paddle2onnx export of that architecture (a PP-OCRv4 recogniser trained for another language)
can be named by its path. Nothing is downloaded.

paddle2onnx writes the weights as ``Constant`` nodes named after Paddle's parameters, not as
initializers. Taken in the order the graph first uses them, they follow the network's layers, and
so the order of the state dict of thaiocr.kernel.lcnet's modules, which were written to mirror that
graph: each tensor is matched to its key by position and checked by shape (a matrix multiplication
holds its weight as ``[in, out]``, a Linear as ``[out, in]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ThaiOCRError
from thaiocr.model import build_model
from thaiocr.preprocess import Preprocess

# The architecture of PaddleOCR's PP-OCRv4 mobile recogniser, as a recipe names it.
PPOCRV4_ARCHITECTURE = {
    "Backbone": {"name": "PPLCNetV3"},
    "Neck": {"name": "SVTREncoder"},
    "Head": {"name": "CTCHead"},
}
PPOCRV4_INPUT = Preprocess(height=48, max_width=320)  # what PaddleOCR reads lines at
HELPER_PREFIXES = ("p2o.", "fill_constant")  # paddle2onnx's own constants: shapes, scalars, eps


def is_paddle_export(path: Path) -> bool:
    """Whether the ONNX file at ``path`` was written by paddle2onnx (not by thaiocr's export)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return any(node.name.startswith("p2o.") for node in model.graph.node)


def read_paddle_recogniser(path: Path) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """The weights of the PP-OCRv4 mobile recogniser at ``path`` under thaiocr's state-dict keys (a
    model of PPOCRV4_ARCHITECTURE) and its output classes after the blank, in order."""
    import onnx

    model = onnx.load(str(path))
    tensors = _weights_in_order_of_use(model)
    chars = _output_classes(model, path)
    template = build_model(ArchitectureConfig(**PPOCRV4_ARCHITECTURE), len(chars) + 1).state_dict()
    keys = [key for key in template if not key.endswith("num_batches_tracked")]
    if len(keys) != len(tensors):
        raise ThaiOCRError(f"pretrained model {path}: {len(tensors)} weight tensors, but a PP-OCRv4 mobile "
                           f"recogniser has {len(keys)}; only that architecture can be read")
    state = dict(template)
    for key, (name, array) in zip(keys, tensors, strict=True):
        state[key] = _fitted(torch.from_numpy(array.copy()), template[key], key, name, path)
    return state, chars


def _weights_in_order_of_use(model) -> list[tuple[str, np.ndarray]]:  # an onnx.ModelProto
    import onnx

    constants = {node.output[0]: node for node in model.graph.node if node.op_type == "Constant"}
    ordered: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        for name in node.input:
            if name in constants and name not in ordered and not name.startswith(HELPER_PREFIXES):
                value = onnx.helper.get_attribute_value(constants[name].attribute[0])
                ordered[name] = onnx.numpy_helper.to_array(value)
    return list(ordered.items())


def _output_classes(model, path: Path) -> tuple[str, ...]:  # an onnx.ModelProto
    """PaddleOCR's dict (the ``character`` metadata, a character a line) and the space it appends."""
    listed = {prop.key: prop.value for prop in model.metadata_props}.get("character")
    if listed is None:
        raise ThaiOCRError(f"pretrained model {path}: no 'character' metadata naming its output classes")
    return (*listed.split("\n"), " ")


def _fitted(tensor: torch.Tensor, like: torch.Tensor, key: str, name: str, path: Path) -> torch.Tensor:
    if tensor.ndim == 2:  # a MatMul weight, [in, out]
        tensor = tensor.T.contiguous()
    if tensor.shape != like.shape:
        raise ThaiOCRError(f"pretrained model {path}: tensor {name} has shape {tuple(tensor.shape)}, but "
                           f"{key!r} of a PP-OCRv4 mobile recogniser has {tuple(like.shape)}")
    return tensor.to(like.dtype)
