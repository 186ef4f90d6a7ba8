"""PP-OCRv4's recogniser in PyTorch: the wheel's weights load, read as the wheel's ONNX graph does, and
fine-tuning starts from them with Thai rows added."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from thaiocr.charset import Charset
from thaiocr.config import ArchitectureConfig
from thaiocr.finetune import load_pretrained
from thaiocr.kernel.lcnet import PPLCNetV3
from thaiocr.model import build_model
from thaiocr.paddleweights import PPOCRV4_ARCHITECTURE, read_paddle_recogniser
from thaiocr.predict import Recognizer
from thaiocr.preprocess import Preprocess
from thaiocr.shipped import pretrained_folder
from thaiocr.synth.fonts import discover_fonts

WHEEL_ONNX = pretrained_folder("ppocrv4")
TEXT = "Total 1,234.50 THB"
pytestmark = pytest.mark.skipif(not WHEEL_ONNX.is_file(), reason="rapidocr-onnxruntime is not installed")


@pytest.fixture(scope="module")
def weights():
    return read_paddle_recogniser(WHEEL_ONNX)


@pytest.fixture(scope="module")
def line() -> Image.Image:
    """An English receipt line, drawn in a Thai font's Latin letters."""
    font = next(f for f in discover_fonts() if f.family == "Loma" and "Bold" not in f.path.name)
    image = Image.new("RGB", (330, 48), "white")
    ImageDraw.Draw(image).text((6, 8), TEXT, fill="black", font=ImageFont.truetype(str(font.path), 28))
    return image


def test_the_wheels_weights_read_as_its_onnx_graph_does(weights, line) -> None:
    state, chars = weights
    model = build_model(ArchitectureConfig(**PPOCRV4_ARCHITECTURE), len(chars) + 1)
    model.load_state_dict(state)
    batch = Preprocess(48, 320)([line])
    session = ort.InferenceSession(str(WHEEL_ONNX), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: batch})[0]
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(batch)).softmax(-1).numpy()
    assert got.shape == expected.shape == (1, 40, 6625)
    assert np.abs(got - expected).max() < 1e-4


def test_fine_tuning_keeps_the_latin_rows_and_reads_the_line_as_before(weights, line) -> None:
    charset = Charset.builtin("thai_full")
    model = build_model(ArchitectureConfig(**PPOCRV4_ARCHITECTURE), charset.num_classes)
    report = load_pretrained(model, charset, WHEEL_ONNX, Preprocess(48, 720))
    state, chars = weights
    index = {ch: i + 1 for i, ch in enumerate(chars)}
    rows = model.head.fc.weight.detach()
    assert torch.equal(rows[charset.encode("A")[0]], state["head.fc.weight"][index["A"]])
    assert "ก" in report.new and "A" in report.kept and "疗" in report.dropped
    sliver = Image.new("RGB", (1, 48), "white")  # read at the narrowest width: one time step
    reading, empty = Recognizer.from_parts(model.eval(), charset, Preprocess(48, 720))([line, sliver])
    assert (reading.text, empty.text) == (TEXT, "")


def test_frozen_blocks_keep_their_weights_and_statistics() -> None:
    backbone = PPLCNetV3(frozen_blocks=2).train()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    optimizer = torch.optim.SGD(backbone.parameters(), lr=0.1)
    features = backbone(torch.randn(2, 3, 48, 64))
    assert features.shape == (2, 480, 1, 8)
    features.square().mean().backward()
    optimizer.step()
    frozen = ("stem.", "blocks.0.", "blocks.1.")
    assert all((p.grad is None) == name.startswith(frozen) for name, p in backbone.named_parameters())
    after = backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(frozen))  # batch norm too
    with pytest.raises(ValueError, match="frozen_blocks must be 0 to 14"):
        PPLCNetV3(frozen_blocks=15)
