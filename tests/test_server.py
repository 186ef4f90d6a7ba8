"""The HTTP service: real uvicorn servers on 127.0.0.1 for the model and concurrency paths,
FastAPI's TestClient for the error cases (each answered as ``{"error": ..., "detail": ...}``)."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from PIL import Image

from thaiocr.data import read_labelled_images
from thaiocr.predict import Prediction, Recognizer
from thaiocr.server import Limits, LineBatcher, create_app
from thaiocr.serverinput import ApiError

with warnings.catch_warnings():  # starlette suggests httpx2 at import; httpx (a dev extra) is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

LIMITS = Limits(max_upload_bytes=256 * 1024, max_pixels=200_000, max_images=8)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recognizer(tiny_run) -> Recognizer:
    return Recognizer.from_path(tiny_run.best_model)


@pytest.fixture(scope="module")
def line_paths(tiny_run) -> list[Path]:
    return [sample.image_path for sample in read_labelled_images(tiny_run.val_labels)]


@pytest.fixture(scope="module")
def line_bytes(line_paths) -> list[bytes]:
    return [path.read_bytes() for path in line_paths]


@pytest.fixture(scope="module")
def client(recognizer) -> Iterator[TestClient]:
    with TestClient(create_app(recognizer, limits=LIMITS)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reading_recognizer(tmp_path_factory, line_paths) -> Recognizer:
    """An untrained model whose readings vary from image to image (batch-norm statistics taken from
    the images, a sharpened head): the briefly trained tiny model reads every line alike, which
    would let a server that mixes up the lines of batched requests pass."""
    import torch

    from thaiocr.charset import load_charset
    from thaiocr.config import ArchitectureConfig
    from thaiocr.export import export_onnx
    from thaiocr.model import build_model
    from thaiocr.preprocess import Preprocess

    torch.manual_seed(0)
    charset, preprocess = load_charset("digits"), Preprocess(32, 96)
    model = build_model(ArchitectureConfig(Backbone={"name": "MobileNetV3", "model_name": "small", "scale": 0.35},
                                           Neck={"name": "SequenceEncoder", "encoder_type": "rnn", "hidden_size": 16}),
                        charset.num_classes)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average over the one calibration batch
    with torch.no_grad():
        model(torch.from_numpy(preprocess(line_paths)))
        model.head.fc.weight.mul_(10)
    path = export_onnx(model.eval(), charset, preprocess, tmp_path_factory.mktemp("reading") / "inference.onnx")
    return Recognizer.from_path(path)


@contextmanager
def running(app) -> Iterator[tuple[str, uvicorn.Server]]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 in a thread; yields (base URL, server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def live_url(recognizer) -> Iterator[str]:
    """The tiny trained model behind a real uvicorn server (small limits)."""
    with running(create_app(recognizer, limits=LIMITS)) as (url, _):
        yield url


def as_dicts(predictions: list[Prediction]) -> list[dict]:
    return [{"text": p.text, "confidence": float(p.confidence)} for p in predictions]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def png(width: int, height: int) -> bytes:
    return png_bytes(Image.new("RGB", (width, height), (255, 255, 255)))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["detail"], body


# --- real HTTP ----------------------------------------------------------------------------------


def test_live_ping_and_model_description(live_url, tiny_run):
    assert httpx.get(f"{live_url}/ping").json() == {"status": "ok"}
    info = httpx.get(f"{live_url}/v1/model").json()
    dict_text = (tiny_run.best_model / "dict.txt").read_bytes()
    assert info["dict_sha256"] == hashlib.sha256(dict_text).hexdigest()
    assert info["input"]["height"] == 32 and info["input"]["image_shape"] == [3, 32, 96]
    assert info["source"].endswith("inference.onnx") and info["name"] == "run"
    assert info["page_mode"] is False and info["decoder"] == "greedy"  # the tiny run has no charlm.gz
    assert info["reread_crowded_lines"] is True
    assert info["quantization"] is None  # a float32 export


def test_live_recognize_matches_recognizer(live_url, recognizer, line_paths, line_bytes):
    files = [("images", (path.name, data, "image/png")) for path, data in zip(line_paths, line_bytes, strict=True)]
    response = httpx.post(f"{live_url}/v1/recognize", files=files[:8])
    assert response.status_code == 200, response.text
    assert response.json() == {"lines": as_dicts(recognizer(line_paths[:8]))}
    raw = httpx.post(f"{live_url}/invocations", content=line_bytes[0], headers={"content-type": "image/png"})
    assert raw.json() == {"lines": as_dicts(recognizer(line_paths[:1]))}


def test_live_upload_limit(live_url):
    response = httpx.post(f"{live_url}/v1/recognize", content=b"\0" * (LIMITS.max_upload_bytes + 1),
                          headers={"content-type": "image/png"})
    assert_error(response, 413, "upload_too_large")


def test_concurrent_requests_are_batched_and_each_gets_its_own_lines(reading_recognizer, line_paths):
    # Lines of one width: a padded batch reads a line a little differently from another batch (the
    # BiLSTM runs over the padding), so only equal widths make any batching give the same readings.
    width, height = reading_recognizer.preprocess.max_width, reading_recognizer.preprocess.height
    lines = [Image.open(path).convert("RGB").resize((width, height)) for path in line_paths]
    expected = as_dicts(reading_recognizer(lines))
    assert len({line["text"] for line in expected}) > 3, "the reading model should tell the lines apart"
    encoded = [b64(png_bytes(line)) for line in lines]
    batch_sizes: list[int] = []

    class Counting(Recognizer):
        def __call__(self, images, batch_size=32):
            batch_sizes.append(len(images))
            if len(batch_sizes) == 1:
                time.sleep(0.3)  # the other clients' requests queue up behind the first batch
            return super().__call__(images, batch_size=batch_size)

    app = create_app(Counting.from_path(reading_recognizer.source), max_batch=16, batch_wait_ms=2)

    def post(i: int) -> dict:
        body = {"images": [encoded[i], encoded[-1 - i]]}
        return httpx.post(f"{url}/v1/recognize", json=body, timeout=30).json()

    with running(app) as (url, _), ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(len(lines))))
    for i, answer in enumerate(answers):
        got = [(line["text"], line["confidence"]) for line in answer["lines"]]
        assert got == [(e["text"], pytest.approx(e["confidence"], abs=1e-5)) for e in (expected[i], expected[-1 - i])]
    assert max(batch_sizes) > 2, f"no batch held more than one request: {batch_sizes}"


def test_shutdown_lets_the_request_in_flight_finish(recognizer, tiny_run, line_bytes):
    started = threading.Event()

    class Slow(Recognizer):
        def __call__(self, images, batch_size=32):
            started.set()
            time.sleep(0.3)
            return super().__call__(images, batch_size=batch_size)

    app = create_app(Slow.from_path(tiny_run.best_model))
    with running(app) as (url, server), ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.post, f"{url}/v1/recognize", content=line_bytes[0],
                             headers={"content-type": "image/png"}, timeout=30)
        assert started.wait(10)
        server.should_exit = True
        assert answer.result().status_code == 200
    assert not app.state.service.batcher.alive


# --- requests that work (TestClient) ------------------------------------------------------------


def test_json_base64_images_and_modes(client, recognizer, line_paths, line_bytes):
    expected = as_dicts(recognizer(line_paths[:3]))
    images = [b64(data) for data in line_bytes[:3]]
    images[1] = f"data:image/png;base64,{images[1]}"  # a data URL is accepted
    images[2] = "\n".join(images[2][i : i + 76] for i in range(0, len(images[2]), 76))  # so is MIME wrapping
    assert client.post("/v1/recognize", json={"images": images}).json() == {"lines": expected}
    one = client.post("/invocations", json={"image": b64(line_bytes[0]), "mode": "line"})
    assert one.json() == {"lines": expected[:1]}


def test_sagemaker_raw_image_types(client, recognizer, line_paths, line_bytes):
    expected = {"lines": as_dicts(recognizer(line_paths[:1]))}
    for content_type in ("image/png", "application/x-image", "application/octet-stream"):
        response = client.post("/invocations", content=line_bytes[0], headers={"content-type": content_type})
        assert response.json() == expected, content_type


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ping", "/invocations", "/v1/recognize", "/v1/ocr", "/v1/model"} <= set(paths)


def test_one_log_line_per_request(client, line_bytes, caplog):
    with caplog.at_level(logging.INFO, logger="thaiocr.server"):
        client.post("/v1/recognize", files=[("images", ("a.png", data, "image/png")) for data in line_bytes[:2]])
    lines = [r.getMessage() for r in caplog.records if r.name == "thaiocr.server"]
    assert len(lines) == 1 and lines[0].startswith("POST /v1/recognize 200 ") and lines[0].endswith(" 2 lines")


# --- bad requests -------------------------------------------------------------------------------


def test_oversize_upload_is_413_declared_or_streamed(client):
    too_big = b"\0" * (LIMITS.max_upload_bytes + 1)
    assert_error(client.post("/v1/recognize", content=too_big, headers={"content-type": "image/png"}),
                 413, "upload_too_large")
    chunks = iter([too_big[:100_000], too_big[100_000:]])  # no Content-Length: counted while read
    assert_error(client.post("/v1/recognize", content=chunks, headers={"content-type": "image/png"}),
                 413, "upload_too_large")


def test_too_many_pixels_is_413(client):
    response = client.post("/v1/recognize", content=png(500, 401), headers={"content-type": "image/png"})
    assert_error(response, 413, "too_many_pixels")
    assert "500x401" in response.json()["detail"]


def test_too_many_images_is_413(client, line_bytes):
    images = [b64(line_bytes[1])] * (LIMITS.max_images + 1)
    assert_error(client.post("/v1/recognize", json={"images": images}), 413, "too_many_images")
    files = [("images", ("a.png", line_bytes[1], "image/png"))] * (LIMITS.max_images + 1)
    assert_error(client.post("/v1/recognize", files=files), 413, "too_many_images")


@pytest.mark.parametrize("data", [b"not an image", png(40, 20)[:60]], ids=["garbage", "truncated png"])
def test_corrupt_image_is_400(client, data):
    assert_error(client.post("/v1/recognize", content=data, headers={"content-type": "image/png"}), 400, "bad_image")
    assert_error(client.post("/v1/recognize", json={"images": [b64(data)]}), 400, "bad_image")


@pytest.mark.parametrize("headers", [{"content-type": "text/plain"}, {}], ids=["text/plain", "none"])
def test_unsupported_content_type_is_415(client, headers):
    assert_error(client.post("/invocations", content=b"hello", headers=headers), 415, "unsupported_media_type")


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (b'{"picture": "aGk="}', "bad_json"),
    (b'{"images": []}', "bad_json"),
    (b'{"image": "not*base64!"}', "bad_base64"),
    (b'{"image": 42}', "bad_base64"),
    (b'{"image": "aGk=", "mode": "word"}', "bad_mode"),
])
def test_malformed_json_or_base64_is_400(client, body, code):
    response = client.post("/invocations", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, code)


def test_mode_conflicting_with_the_endpoint_is_400(client, line_bytes):
    assert_error(client.post("/v1/recognize", json={"image": b64(line_bytes[0]), "mode": "page"}), 400, "bad_mode")


def test_multipart_without_files_or_boundary_is_400(client):
    assert_error(client.post("/v1/recognize", files={"mode": (None, "line")}), 400, "no_images")
    no_boundary = client.post("/v1/recognize", content=b"--x\r\n", headers={"content-type": "multipart/form-data"})
    assert_error(no_boundary, 400, "bad_request")


def test_unknown_path_and_method_answer_json(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.get("/v1/recognize"), 405, "method_not_allowed")


# --- page mode ----------------------------------------------------------------------------------


def test_page_mode_without_a_page_reader_is_501(client, line_bytes):
    assert_error(client.post("/v1/ocr", content=line_bytes[0], headers={"content-type": "image/png"}),
                 501, "page_mode_unavailable")
    assert_error(client.post("/invocations", json={"image": b64(line_bytes[0]), "mode": "page"}),
                 501, "page_mode_unavailable")
    attributes = {"content-type": "image/png", "X-Amzn-SageMaker-Custom-Attributes": "mode=page"}
    assert_error(client.post("/invocations", content=line_bytes[0], headers=attributes), 501, "page_mode_unavailable")


@dataclass
class FakePage:
    lines: list
    text: str

    def to_dict(self) -> dict:
        return {"text": self.text, "lines": self.lines}


def test_page_mode_answers_the_page_readers_results(recognizer, line_bytes, caplog):
    seen: list[tuple[int, int]] = []

    def read_page(image: Image.Image) -> FakePage:
        seen.append(image.size)
        return FakePage([{"text": "12", "confidence": 0.9, "polygon": [[0, 0], [4, 0], [4, 2], [0, 2]]}], "12")

    with TestClient(create_app(recognizer, page_reader=read_page, limits=LIMITS)) as page_client, \
            caplog.at_level(logging.INFO, logger="thaiocr.server"):
        response = page_client.post("/v1/ocr", content=png(60, 40), headers={"content-type": "image/png"})
        assert page_client.get("/v1/model").json()["page_mode"] is True
    assert response.json() == {"pages": [{"image": 0, "page": 1, **read_page(Image.new("RGB", (1, 1))).to_dict()}]}
    assert seen[0] == (60, 40)
    assert caplog.records[0].getMessage().endswith(" 1 lines")


def test_page_mode_with_the_real_page_reader(reading_recognizer, line_paths):
    from thaiocr.errors import ThaiOCRError
    from thaiocr.page import PageReader

    try:
        reader = PageReader.from_paths(model=reading_recognizer.source, detector="ppocrv4")
    except ThaiOCRError as exc:  # the detector's wheel is missing (`make setup` installs it)
        pytest.skip(str(exc))
    page = page_of(line_paths[:3])
    with TestClient(create_app(reading_recognizer, page_reader=reader)) as page_client:
        response = page_client.post("/v1/ocr", files={"image": ("page.png", png_bytes(page), "image/png")})
    assert response.status_code == 200, response.text
    assert response.json() == {"pages": [{"image": 0, "page": 1, **reader(page).to_dict()}]}
    assert response.json()["pages"][0]["lines"], "the detector should find the pasted lines"


def page_of(line_paths: list[Path]) -> Image.Image:
    """The line images pasted one under another on a white page, well apart."""
    lines = [Image.open(path).convert("RGB") for path in line_paths]
    page = Image.new("RGB", (max(line.width for line in lines) + 80, sum(line.height + 30 for line in lines) + 60),
                     "white")
    top = 40
    for line in lines:
        page.paste(line, (40, top))
        top += line.height + 30
    return page


# --- the batcher alone --------------------------------------------------------------------------


def fake_reader(calls: list[int], gate: threading.Event | None = None):
    """Reads each image as its width; waits for ``gate`` on the first call so that requests queue."""

    def read(images, batch_size=32):
        calls.append(len(images))
        if gate is not None and len(calls) == 1:
            gate.wait(5)
        return [Prediction(str(image.width), 1.0) for image in images]

    return read


def blanks(*widths: int) -> list[Image.Image]:
    return [Image.fromarray(np.zeros((2, w, 3), np.uint8)) for w in widths]


def test_batcher_groups_queued_requests_and_keeps_each_ones_lines():
    calls: list[int] = []
    gate = threading.Event()
    batcher = LineBatcher(fake_reader(calls, gate), max_batch=4, wait_ms=0)
    first = batcher.submit(blanks(1))
    while not calls:
        time.sleep(0.001)
    queued = [batcher.submit(blanks(10 + i, 20 + i)) for i in range(3)]  # 6 lines wait behind the first
    gate.set()
    assert [p.text for p in first.result(5)] == ["1"]
    assert [[p.text for p in f.result(5)] for f in queued] == [["10", "20"], ["11", "21"], ["12", "22"]]
    batcher.close()
    assert calls == [1, 4, 2]  # up to max_batch lines per call, a request never split


def test_batcher_failure_reaches_every_request_and_close_drains():
    def broken(images, batch_size=32):
        raise RuntimeError("model exploded")

    batcher = LineBatcher(broken, max_batch=8, wait_ms=0)
    with pytest.raises(RuntimeError, match="exploded"):
        batcher.submit(blanks(3)).result(5)
    batcher.close()
    with pytest.raises(ApiError) as refused:
        batcher.submit(blanks(3))
    assert refused.value.status == 503


def test_ping_is_503_once_the_worker_stopped(recognizer):
    with TestClient(create_app(recognizer)) as short_lived:
        short_lived.app.state.service.batcher.close()
        assert_error(short_lived.get("/ping"), 503, "not_ready")
