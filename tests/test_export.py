import json

import numpy as np
import onnx
import pytest
import torch

from thaiocr.charset import Charset
from thaiocr.checkpoint import make_payload, save_checkpoint
from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ThaiOCRError
from thaiocr.export import check_parity, export_checkpoint, export_onnx, random_batch
from thaiocr.model import CRNN, build_model
from thaiocr.onnxmodel import read_onnx_metadata
from thaiocr.preprocess import Preprocess

CHARSET = Charset.from_chars(list("0123456789๐๑ "))
PREPROCESS = Preprocess(32, 96)


def tiny_model() -> CRNN:
    torch.manual_seed(0)
    arch = ArchitectureConfig(
        Backbone={"name": "MobileNetV3", "model_name": "small", "scale": 0.35},
        Neck={"name": "SequenceEncoder", "encoder_type": "rnn", "hidden_size": 16},
        Head={"name": "CTCHead", "fc_decay": "1e-05"},
    )
    return build_model(arch, CHARSET.num_classes).to(memory_format=torch.channels_last)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[CRNN, object]:
    model = tiny_model()
    path = export_onnx(model, CHARSET, PREPROCESS, tmp_path_factory.mktemp("onnx") / "inference.onnx",
                       config={"Global": {"seed": 1}})
    return model, path


@pytest.mark.parametrize(("batch", "width"), [(1, 96), (3, 96), (1, 40), (3, 40)])
def test_onnx_matches_pytorch_for_any_batch_and_width(exported, batch, width):
    model, path = exported
    images = np.random.default_rng(batch * width).uniform(-1, 1, (batch, 3, 32, width)).astype(np.float32)
    assert check_parity(model, path, images) <= 1e-4


def test_export_leaves_the_callers_model_as_it_was(exported):
    model, _ = exported
    assert model.training
    assert model.backbone.features[0][0].weight.is_contiguous(memory_format=torch.channels_last)


def test_graph_names_and_dynamic_axes(exported):
    graph = onnx.load(str(exported[1])).graph
    (image,), (probs,) = graph.input, graph.output
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert (image.name, dims(image)) == ("image", ["batch", 3, 32, "width"])
    assert (probs.name, dims(probs)) == ("probs", ["batch", "time", CHARSET.num_classes])


def test_metadata_describes_the_model(exported):
    meta = read_onnx_metadata(exported[1])
    assert meta["character"] == list(CHARSET.chars)
    description = meta["thaiocr"]
    assert description["num_classes"] == CHARSET.num_classes
    assert description["charset_sha256"] == CHARSET.sha256
    assert description["preprocess"] == PREPROCESS.metadata()
    assert description["architecture"]["Head"] == {"name": "CTCHead", "fc_decay": "1e-05"}
    assert description["config"] == {"Global": {"seed": 1}}
    props = {p.key: p.value for p in onnx.load(str(exported[1])).metadata_props}
    assert props["character"] == "\n".join("0123456789๐๑ ")  # the key RapidOCR reads
    json.loads(props["thaiocr"])


def test_dict_file_is_written_beside_the_model(exported):
    assert (exported[1].parent / "dict.txt").read_text(encoding="utf-8") == CHARSET.dict_text()


def test_export_refuses_a_model_built_for_another_alphabet(tmp_path):
    with pytest.raises(ThaiOCRError, match="model and dict do not match"):
        export_onnx(tiny_model(), Charset.from_chars(list("ab")), PREPROCESS, tmp_path / "m.onnx")


def test_reading_metadata_of_a_foreign_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"not onnx")
    with pytest.raises(ThaiOCRError, match=r"x\.onnx: not a readable ONNX model"):
        read_onnx_metadata(tmp_path / "x.onnx")


def test_export_checkpoint_writes_model_dict_and_config(tmp_path):
    model = tiny_model()
    save_checkpoint(tmp_path / "best.pt", make_payload(model, CHARSET, PREPROCESS, config={"Global": {}}))
    path, parity = export_checkpoint(tmp_path / "best.pt", tmp_path / "best_model")
    assert path == tmp_path / "best_model" / "inference.onnx"
    assert parity <= 1e-4
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.yml", "dict.txt", "inference.onnx"]
    assert random_batch(PREPROCESS).shape == (2, 3, 32, 96)
