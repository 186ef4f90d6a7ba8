"""Models written before the folders, kernel and model description of issue 26 still load: the
shipped checkpoints and ONNX files, and a checkpoint of any recipe's architecture (the names and
shapes of its tensors are those the earlier code wrote, kept as digests in tests/data)."""

import hashlib
import json
from pathlib import Path

import onnx
import pytest
from torch import nn

from thaiocr.checkpoint import load_checkpoint, model_from_checkpoint
from thaiocr.config import ArchitectureConfig
from thaiocr.det.config import DetArchitectureConfig
from thaiocr.det.model import build_det_model
from thaiocr.export import check_parity, random_batch
from thaiocr.model import build_model
from thaiocr.modeldescription import ModelDescription
from thaiocr.predict import Recognizer
from thaiocr.runfolder import ONNX_NAME
from thaiocr.shipped import SHIPPED_MODELS, shipped_model_dir

BEFORE = json.loads((Path(__file__).parent / "data" / "state_shapes_before_issue26.json").read_text(encoding="utf-8"))


def onnx_description(path: Path) -> ModelDescription:
    return ModelDescription.from_onnx_metadata({p.key: p.value for p in onnx.load(str(path)).metadata_props}, path)


def tensor_digest(model: nn.Module) -> tuple[int, str]:
    lines = [f"{name} {'x'.join(map(str, value.shape)) or 'scalar'}" for name, value in model.state_dict().items()]
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.mark.parametrize("recipe", [key for key in BEFORE if key.startswith("rec/")])
def test_a_recogniser_has_the_tensors_an_earlier_checkpoint_holds(recipe):
    entry = BEFORE[recipe]
    model = build_model(ArchitectureConfig(**entry["architecture"]), entry["num_classes"])
    assert tensor_digest(model) == (entry["tensors"], entry["sha256"])


@pytest.mark.parametrize("recipe", [key for key in BEFORE if key.startswith("det/")])
def test_a_detector_has_the_tensors_an_earlier_checkpoint_holds(recipe):
    entry = BEFORE[recipe]
    model = build_det_model(DetArchitectureConfig(**entry["architecture"]))
    assert tensor_digest(model) == (entry["tensors"], entry["sha256"])


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_a_shipped_checkpoint_and_its_onnx_load_and_agree(name):
    folder = shipped_model_dir(name)
    model, charset, preprocess = model_from_checkpoint(load_checkpoint(folder / "model.pt"))
    recognizer = Recognizer(folder / ONNX_NAME)  # checks the ONNX metadata against dict.txt
    assert recognizer.charset.chars == charset.chars
    assert recognizer.preprocess == preprocess
    if onnx_description(folder / ONNX_NAME).quantization is None:  # int8: test_shipped_model.py reads lines
        assert check_parity(model, folder / ONNX_NAME, random_batch(preprocess)) < 1e-4
