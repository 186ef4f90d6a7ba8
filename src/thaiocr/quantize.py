"""Int8 convolutions in an exported recogniser (``thaiocr export --int8``): about a third faster.

Convolutions hold most of a line's ONNX Runtime time (the shipped ``thai_general``: 72%, its
BiLSTM 17%). All but the first are quantized statically: weights to int8 per output channel,
activations to uint8 with ranges measured on lines the recipe trains on (never benchmark lines).
The first convolution (it sees the raw image), the BiLSTM and the head stay in float32: on the
shipped model, quantizing everything read 7 points fewer held-out lines, the convolutions after
the first alone within a point of float32 (its model card has the figures).

The file stays a self-describing export: its ``thaiocr`` metadata gains a ``quantization`` entry.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from thaiocr.batches import load_split
from thaiocr.charset import load_charset
from thaiocr.config import Config
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write_bytes
from thaiocr.modeldescription import ModelDescription
from thaiocr.onnxmodel import INPUT_NAME, cpu_session
from thaiocr.preprocess import Preprocess
from thaiocr.synthstream import build_synth_split

DEFAULT_CALIBRATION_LINES = 256
KEPT_FLOAT = 1  # leading convolutions left in float32


class _Batches(CalibrationDataReader):
    def __init__(self, batches: list[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT_NAME: batch}


def quantize_in_place(onnx_path: Path, config: Config, lines: int = DEFAULT_CALIBRATION_LINES) -> tuple[float, int]:
    """Quantize an export, calibrated on the recipe's first ``lines`` training lines; returns its
    step agreement with the float32 model on up to ``lines`` lines after those, and their count."""
    preprocess = _description(onnx.load(str(onnx_path)), Path(onnx_path)).preprocess
    calibration, check = training_batches(config, preprocess, lines)
    with tempfile.TemporaryDirectory(prefix="thaiocr-float-") as scratch:
        reference = Path(scratch) / "float32.onnx"
        reference.write_bytes(Path(onnx_path).read_bytes())
        quantize_export(reference, calibration, onnx_path)
        return step_agreement(reference, onnx_path, check), sum(len(batch) for batch in check)


def quantize_export(onnx_path: Path, batches: list[np.ndarray], out_path: Path | None = None) -> Path:
    """Write ``out_path`` (default: over ``onnx_path``, atomically) with the convolutions after the
    first in int8, their activation ranges measured on ``batches`` (float32 ``[N, 3, H, W]``)."""
    onnx_path = Path(onnx_path)
    model = onnx.load(str(onnx_path))
    description = _description(model, onnx_path)
    if description.quantization:
        raise ThaiOCRError(f"{onnx_path}: already quantized; export the checkpoint again to start from float32")
    convolutions = [node.name for node in model.graph.node if node.op_type == "Conv"]
    with tempfile.TemporaryDirectory(prefix="thaiocr-int8-") as scratch, _quiet_quantizer():
        quantized_path = Path(scratch) / "int8.onnx"
        quantize_static(str(onnx_path), str(quantized_path), _Batches(batches), quant_format=QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_quantize=convolutions[KEPT_FLOAT:])
        quantized = onnx.load(str(quantized_path))
    metadata = replace(description, quantization={
        "weights": "int8, per output channel", "activations": "uint8",
        "operators": f"Conv, all but the first {KEPT_FLOAT}", "calibration_lines": sum(len(b) for b in batches),
    }).onnx_metadata()
    for prop in quantized.metadata_props:
        prop.value = metadata.get(prop.key, prop.value)
    return atomic_write_bytes(Path(out_path or onnx_path), quantized.SerializeToString())


def step_agreement(reference: Path, quantized: Path, batches: list[np.ndarray]) -> float:
    """The share of time steps whose likeliest class is the same in both models, over ``batches``."""
    sessions = [cpu_session(Path(path)) for path in (reference, quantized)]
    same = total = 0
    for batch in batches:
        first, second = (session.run(None, {INPUT_NAME: batch})[0].argmax(axis=2) for session in sessions)
        same += int((first == second).sum())
        total += first.size
    return same / total


def training_batches(config: Config, preprocess: Preprocess, lines: int,
                     batch_size: int = 32) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The recipe's first ``lines`` training lines and up to ``lines`` after them (rendered as its
    first epoch renders them, or read from its label files), each resized and batched by width."""
    g, section = config.Global, config.Train.dataset
    charset = load_charset(g.character_dict_path, g.use_space_char)
    dataset = (build_synth_split(section, "Train", charset, g.max_text_length, preprocess, g.seed)
               if section.is_synthetic else load_split(section, charset, g.max_text_length, preprocess))
    if len(dataset) <= lines:
        raise ThaiOCRError(f"{config.source}: the recipe has {len(dataset)} training lines, too few to "
                           f"calibrate on {lines} and check on the lines after them")

    def batched(start: int, end: int) -> list[np.ndarray]:
        images = sorted((dataset[i][0] for i in range(start, end)), key=lambda image: image.shape[1])
        return [preprocess.batch(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]

    return batched(0, lines), batched(lines, min(len(dataset), 2 * lines))


def _description(model: onnx.ModelProto, source: Path) -> ModelDescription:
    return ModelDescription.from_onnx_metadata({prop.key: prop.value for prop in model.metadata_props}, source)


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """ONNX Runtime's quantizer logs advice about its own pre-processing step to the root logger;
    the graph here needs none (measured: the same speed and agreement with it)."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
