"""ONNX export shared by the recogniser and the detector: tracing a module to an ONNX graph with
named, dynamic axes and metadata entries, and the parity of the export against PyTorch."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from thaiocr.errors import ThaiOCRError
from thaiocr.kernel.blocks import inference_mode
from thaiocr.onnxmodel import cpu_session

OPSET = 17


def onnx_graph(module: nn.Module, example: torch.Tensor, names: tuple[str, str],
               dynamic_axes: Mapping[str, Mapping[int, str]], metadata: Mapping[str, str]) -> bytes:
    """``module`` (on the CPU, in eval mode) traced on ``example`` to a serialised ONNX model whose
    input and output are ``names`` and whose ``metadata_props`` hold ``metadata``."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about LSTM batch sizes
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=OPSET,
                          input_names=[names[0]], output_names=[names[1]],
                          dynamic_axes={name: dict(axes) for name, axes in dynamic_axes.items()})
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


def check_parity(model: nn.Module, onnx_path: Path, batch: np.ndarray, names: tuple[str, str],
                 outputs: Callable[[torch.Tensor], torch.Tensor] = lambda y: y) -> float:
    """Max |PyTorch - ONNX Runtime| over ``batch`` (float32 ``[N, 3, H, W]``); ``outputs`` turns the
    model's outputs into the graph's (a softmax, say). The model keeps its device and mode."""
    device = next(model.parameters()).device
    with inference_mode(model):
        expected = outputs(model(torch.from_numpy(batch).to(device)).float()).cpu().numpy()
    actual = cpu_session(onnx_path).run([names[1]], {names[0]: batch})[0]
    if actual.shape != expected.shape:
        raise ThaiOCRError(f"{onnx_path}: output shape {actual.shape} differs from PyTorch's {expected.shape}")
    return float(np.abs(actual - expected).max())
