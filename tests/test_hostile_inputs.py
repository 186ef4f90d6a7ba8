"""Inputs an attacker or a careless user sends (issue 25): each case here once broke something.

The server keeps a memory budget whatever a request holds; ``predict`` reads every file it can and
names each one it cannot; the cloud commands find the region where the docs say; the trainer and
``publish`` leave no temp files behind; odd JSON and archives end in clean errors.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from serve_load import amplifying_png, png_header  # noqa: E402  (bench/ is not a package)
from thaiocr.imageload import decode, line_target
from thaiocr.predict import Recognizer
from thaiocr.server import DecodeGate, Limits, create_app

with warnings.catch_warnings():  # starlette suggests httpx2 at import; httpx (a dev extra) is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

MiB = 2**20


# --- images -------------------------------------------------------------------------------------


# png_header (a PNG whose header claims a size, with almost no data) and amplifying_png (the issue's
# 6000 x 6000 one-bit image in some 11 KB) are the soak bench's own, so both attack the same way.


def line_png(text: str = "12345", size: tuple[int, int] = (200, 48)) -> bytes:
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((5, 10), text, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def images_json(images: list[bytes]) -> bytes:
    return json.dumps({"images": [base64.b64encode(image).decode("ascii") for image in images]}).encode()


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer("shipped-small")


@pytest.fixture(scope="module")
def client(recognizer) -> Iterator[TestClient]:
    limits = Limits(max_upload_bytes=MiB, max_pixels=2_000_000, max_line_pixels=500_000,
                    max_request_pixels=1_000_000, max_images=16)
    with TestClient(create_app(recognizer, limits=limits)) as test_client:
        yield test_client


def error_of(response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["detail"]


# --- the server: memory amplification -----------------------------------------------------------


def test_a_line_over_the_line_limit_is_413_naming_the_option(client):
    status, code, detail = error_of(client.post("/v1/recognize", content=images_json([png_header(1000, 1000)]),
                                                headers={"Content-Type": "application/json"}))
    assert (status, code) == (413, "too_many_pixels")
    assert "image 0: 1000x1000 is 1,000,000 pixels; the limit is 500,000 (--max-line-pixels)" in detail


def test_images_within_their_limit_but_over_the_request_limit_are_413(client):
    images = [png_header(600, 600)] * 3  # 360,000 each, 1,080,000 together
    status, code, detail = error_of(client.post("/v1/recognize", content=images_json(images),
                                                headers={"Content-Type": "application/json"}))
    assert (status, code) == (413, "too_many_pixels")
    assert "the request: 3 images together is 1,080,000 pixels" in detail and "--max-request-pixels" in detail


def test_a_pixel_bomb_names_the_servers_limit_not_pillows(client):
    status, code, detail = error_of(client.post("/v1/recognize", content=png_header(30000, 30000),
                                                headers={"Content-Type": "image/png"}))
    assert (status, code) == (413, "too_many_pixels")
    assert "900,000,000 pixels; the limit is 500,000 (--max-line-pixels)" in detail
    assert "decompression bomb" not in detail


def test_a_bad_image_after_good_ones_is_400_before_anything_is_decoded(client):
    status, code, detail = error_of(client.post("/v1/recognize", content=images_json([line_png(), b"not an image"]),
                                                headers={"Content-Type": "application/json"}))
    assert (status, code) == (400, "bad_image") and detail.startswith("image 1: ")


def test_a_line_image_is_decoded_at_the_size_the_model_reads(recognizer):
    preprocess = recognizer.preprocess
    image = decode(amplifying_png(), "image 0", 40_000_000, target=line_target(preprocess))
    assert image.mode == "RGB" and image.size == (preprocess.target_width(6000, 6000), preprocess.height)


@pytest.mark.parametrize(("size", "kind"), [((260, 64), "PNG"), ((1000, 200), "PNG"), ((1000, 200), "JPEG")])
def test_decoding_toward_the_size_reads_a_line_within_a_few_times_it_exactly_as_before(recognizer, size, kind):
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text((5, 10), "305-12", fill=0)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=kind)
    data = buffer.getvalue()
    decoded = decode(data, "line", 1_000_000, target=line_target(recognizer.preprocess))
    assert recognizer([decoded]) == recognizer([data])


def test_decode_gate_bounds_concurrent_decodes_and_releases_after_a_burst():
    releases: list[int] = []
    gate = DecodeGate(2, release=lambda: releases.append(1), release_after=100)
    inside, most = 0, 0
    lock = threading.Lock()

    def decode_one() -> None:
        nonlocal inside, most
        with gate.slot(60):
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.01)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=decode_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
    assert releases  # 480 pixels decoded: the heap was trimmed when the last decode ended
    with gate.slot(10):
        pass
    assert len(releases) <= 4  # small decodes alone never pay for a release each


# --- the server, for real: the request against a `thaiocr serve` process ----------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def _post(port: int, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", "/v1/recognize", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def _wait_for_ping(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not answer /ping")


@pytest.fixture
def serve_process(tmp_path) -> Iterator[Callable[..., tuple[int, int]]]:
    """``start(*options)`` -> (port, pid) of a ``thaiocr serve`` of the small shipped model."""
    processes = []

    def start(*options: str) -> tuple[int, int]:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "thaiocr", "serve", "--model", "shipped-small", "--port", str(port), *options],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "serve.log", "wb"))  # noqa: SIM115
        processes.append(process)
        _wait_for_ping(port, process)
        return port, process.pid

    yield start
    for process in processes:
        process.terminate()
        process.wait(30)


def _burst(port: int, body: bytes, copies: int) -> list[int]:
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(_post(port, body))) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _assert_memory_budget(pid: int, start_mib: float) -> None:
    assert _status_mib(pid, "VmHWM") < 1024, f"peak RSS {_status_mib(pid, 'VmHWM'):.0f} MiB"
    assert _status_mib(pid, "VmRSS") < start_mib + 100, f"RSS after {_status_mib(pid, 'VmRSS'):.0f} MiB"


def test_the_amplification_request_is_refused_at_the_default_limits(serve_process):
    """16 x an 11 KB 6000 x 6000 PNG took the server to 3.1 GB (four copies of 8: 7.1 GB)."""
    port, pid = serve_process()
    start = _status_mib(pid, "VmRSS")
    png = amplifying_png()
    assert _post(port, images_json([png] * 16)) == 413
    assert _burst(port, images_json([png] * 8), 4) == [413] * 4
    _assert_memory_budget(pid, start)


@pytest.mark.slow  # ~9 s: it decodes 32 of the 36-megapixel images
def test_the_amplification_request_read_with_raised_limits_stays_within_budget(serve_process):
    port, pid = serve_process("--max-line-pixels", "40000000", "--max-request-pixels", "1000000000")
    start = _status_mib(pid, "VmRSS")
    png = amplifying_png()
    assert _post(port, images_json([png] * 16)) == 200
    assert _burst(port, images_json([png] * 4), 4) == [200] * 4
    time.sleep(0.2)
    _assert_memory_budget(pid, start)


# --- the request parser -------------------------------------------------------------------------


def test_deeply_nested_json_is_400_bad_json(client):
    body = b"[" * 100_000 + b"]" * 100_000
    status, code, _ = error_of(client.post("/v1/recognize", content=body, headers={"Content-Type": "application/json"}))
    assert (status, code) == (400, "bad_json")


# --- predict and ocr: every file read that can be, each one that cannot named -------------------


@pytest.fixture
def mixed_files(tmp_path) -> Path:
    (tmp_path / "good.png").write_bytes(line_png("123"))
    (tmp_path / "good2.png").write_bytes(line_png("456"))
    (tmp_path / "dir").mkdir()
    (tmp_path / "bomb.png").write_bytes(png_header(30000, 30000))
    (tmp_path / "text.png").write_text("not an image\n")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "truncated.png").write_bytes(line_png("789")[:120])
    return tmp_path


def test_predict_reads_the_good_files_and_names_each_bad_one(run_cli, mixed_files, monkeypatch):
    monkeypatch.chdir(mixed_files)
    code, out, err = run_cli("predict", "--model", "shipped-small", "good.png", "missing.png", "dir/", "bomb.png",
                             "good2.png")
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == ["good.png", "good2.png"]
    errors = [line for line in err.splitlines() if line.startswith("thaiocr: error:")]
    assert errors == [
        "thaiocr: error: missing.png: image file not found",
        "thaiocr: error: dir: is a folder, not an image file",
        "thaiocr: error: bomb.png: the image is 900,000,000 pixels; the limit is 40,000,000 (--max-pixels)",
    ]
    assert "3 of 5 images could not be read" in err


def test_predict_names_text_empty_and_truncated_files(run_cli, mixed_files, monkeypatch):
    monkeypatch.chdir(mixed_files)
    code, out, err = run_cli("predict", "--model", "shipped-small", "text.png", "good.png", "empty.png",
                             "truncated.png")
    assert code == 1 and out.startswith("good.png\t")
    assert "text.png: not a readable image (no format Pillow reads)" in err
    assert "empty.png: empty file (0 bytes)" in err
    assert "truncated.png: not a readable image" in err
    assert "BufferedReader" not in err


def test_ocr_refuses_a_pixel_bomb_naming_the_limit(run_cli, mixed_files):
    code, _, err = run_cli("ocr", mixed_files / "bomb.png", "--max-pixels", "1000000")
    assert code == 1
    assert "900,000,000 pixels; the limit is 1,000,000 (--max-pixels)" in err


def test_ocr_on_a_folder_without_images_says_so(run_cli, mixed_files):
    code, _, err = run_cli("ocr", mixed_files / "dir")
    assert code == 1 and "dir: no images in this folder" in err


# --- the AWS region: --region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile --------


@pytest.fixture
def aws_env(monkeypatch, tmp_path) -> Path:
    """No AWS setting of this machine's leaks in; fake credentials; the profile file to write."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    profile = tmp_path / "aws-config"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_CONFIG_FILE": str(profile), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    return profile


REGION_SOURCES = [
    ({"AWS_REGION": "ap-southeast-1"}, None, [], "ap-southeast-1"),
    ({"AWS_DEFAULT_REGION": "eu-west-1"}, None, [], "eu-west-1"),
    ({}, "[default]\nregion = us-west-2\n", [], "us-west-2"),
    ({"AWS_REGION": "ap-southeast-1", "AWS_DEFAULT_REGION": "eu-west-1"}, "[default]\nregion = us-west-2\n", [],
     "ap-southeast-1"),
    ({"AWS_DEFAULT_REGION": "eu-west-1"}, "[default]\nregion = us-west-2\n", [], "eu-west-1"),
    ({"AWS_REGION": "ap-southeast-1"}, None, ["--region", "eu-central-1"], "eu-central-1"),
]


@pytest.mark.parametrize(("environ", "profile_text", "options", "expected"), REGION_SOURCES)
def test_cloud_check_uses_the_documented_region_order(aws_env, monkeypatch, run_cli, tiny_config, environ,
                                                      profile_text, options, expected):
    from moto import mock_aws

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if profile_text:
        aws_env.write_text(profile_text)
    with mock_aws():
        import boto3

        boto3.client("s3", region_name=expected).create_bucket(
            Bucket="thaiocr-region", **({} if expected == "us-east-1" else
                                        {"CreateBucketConfiguration": {"LocationConstraint": expected}}))
        _, out, _ = run_cli("cloud", "check", "-c", tiny_config, "--s3", "s3://thaiocr-region/data", "--role", "r",
                            *options)
    assert f"✅ S3 bucket: s3://thaiocr-region reachable in {expected}" in out


@pytest.mark.parametrize(("environ", "profile_text", "options", "expected"), REGION_SOURCES)
def test_cloud_estimate_prices_in_the_same_region(aws_env, monkeypatch, environ, profile_text, options, expected):
    from thaiocr.cloud.costs import price_region

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    if profile_text:
        aws_env.write_text(profile_text)
    assert price_region(options[1] if options else None) == expected


def test_without_any_region_the_cloud_commands_say_how_to_set_one(aws_env, run_cli, tiny_config):
    from thaiocr.cloud.costs import price_region

    code, _, err = run_cli("cloud", "status", "some-job")
    assert code == 2 and "no AWS region: pass --region or set AWS_REGION" in err
    assert price_region(None) == "us-east-1"


# --- killed writes: stale temp files ------------------------------------------------------------


def test_the_trainer_removes_the_temp_files_a_killed_write_left(copy_run, tiny_run, make_train_argv, capsys):
    from thaiocr.cli import main

    run = copy_run()
    stale = [run / ".latest.pt.k3j2h_0q.tmp", run / ".best_accuracy.pt.a1b2c3d4.tmp",
             run / "best_model" / ".inference.onnx.zz9y8x7w.tmp"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    kept = [run / ".keep", run / "notes.tmp", run / "best_model" / ".hidden"]
    for path in kept:
        path.write_text("the user's\n")
    argv = make_train_argv(tiny_run.data_dir, run, "-o", f"Global.epoch_num={tiny_run.epochs}")
    assert main(argv) == 0
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert "Removed 3 temp files of an interrupted write" in capsys.readouterr().err


def test_publish_leaves_dotfiles_and_temp_files_out_of_the_model(tmp_path):
    from thaiocr.cloud.container import publish

    run = tmp_path / "run"
    (run / "best_model").mkdir(parents=True)
    for name in ("latest.pt", ".latest.pt.k3j2h_0q.tmp", ".DS_Store", "best_model/inference.onnx",
                 "best_model/.inference.onnx.abcdefgh.tmp", "best_model/partial.tmp"):
        (run / name).write_bytes(b"x")
    (run / ".cache").mkdir()
    (run / ".cache" / "data").write_bytes(b"x")
    publish(run, tmp_path / "model")
    published = sorted(str(p.relative_to(tmp_path / "model")) for p in (tmp_path / "model").rglob("*"))
    assert published == ["best_model", "best_model/inference.onnx", "latest.pt"]


# --- odd archives (a downloaded model.tar.gz) ---------------------------------------------------


def tar_gz(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    """``(name, kind, content)``: kind ``file`` (bytes), ``dir``, ``sym`` or ``link`` (the target)."""
    import tarfile

    with tarfile.open(path, "w:gz") as archive:
        for name, kind, content in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "link": tarfile.LNKTYPE}[kind]
            info.linkname = content if kind != "dir" else ""
            archive.addfile(info)
    return path


@pytest.mark.parametrize(("members", "message"), [
    ([("a", "sym", "b"), ("b", "sym", "a")], "link 'a' -> 'b' is part of a loop"),
    ([("self", "sym", "self")], "is part of a loop"),
    ([("x", "file", b"1"), ("x/y", "file", b"2")], "'x' is a file, and 'x/y' needs it to be a folder"),
    ([("x", "file", b"1"), ("x", "dir", "")], "'x' is a file, and 'x' needs it to be a folder"),
    ([("link", "sym", "latest.pt"), ("latest.pt", "file", b"1"), ("link/z", "file", b"2")],
     "'link' is a file, and 'link/z' needs it to be a folder"),
    ([(".", "file", b"I would replace the folder")], "'.' names the folder itself"),
    ([("./", "sym", "a"), ("a", "file", b"1")], "names the folder itself"),
])
def test_odd_archives_are_clean_errors(tmp_path, members, message):
    from thaiocr.cloud.artifacts import extract_safely
    from thaiocr.errors import ThaiOCRError

    archive = tar_gz(tmp_path / "model.tar.gz", members)
    with pytest.raises(ThaiOCRError, match=re.escape(message)):
        extract_safely(archive, tmp_path / "out")
    assert not (tmp_path / "out").is_file()


def test_an_archive_of_a_dot_folder_unpacks_as_usual(tmp_path):
    from thaiocr.cloud.artifacts import extract_safely

    archive = tar_gz(tmp_path / "model.tar.gz", [(".", "dir", ""), ("./best_model", "dir", ""),
                                                 ("./best_model/inference.onnx", "file", b"onnx"),
                                                 ("./latest.pt", "file", b"pt"), ("./copy.pt", "sym", "latest.pt")])
    extract_safely(archive, tmp_path / "out")
    assert (tmp_path / "out" / "best_model" / "inference.onnx").read_bytes() == b"onnx"
    assert (tmp_path / "out" / "copy.pt").read_bytes() == b"pt"


# --- cosmetic: messages that name the right thing ----------------------------------------------


@pytest.fixture
def labels_with_a_text_image(tmp_path) -> Path:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(line_png("12"))
    (tmp_path / "imgs" / "b.png").write_text("not an image\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("imgs/a.png\t12\nimgs/b.png\t34\n", encoding="utf-8")
    return labels


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_an_undecodable_image_of_a_label_file_is_named_by_file_and_line(run_cli, labels_with_a_text_image, tmp_path,
                                                                         command):
    extra = ["--out", tmp_path / "p.tsv"] if command == "predict" else []
    code, _, err = run_cli(command, "--model", "shipped-small", "--labels", labels_with_a_text_image, *extra)
    assert code == 2
    assert f"{labels_with_a_text_image}:2: " in err and "b.png: not a readable image (no format Pillow reads)" in err
    assert "BufferedReader" not in err


def test_predict_labels_writes_the_image_paths_as_the_label_file_has_them(run_cli, tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(line_png("12"))
    (tmp_path / "labels.txt").write_text("imgs/a.png\t12\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    code, _, _ = run_cli("predict", "--model", "shipped-small", "--labels", Path(tmp_path.name) / "labels.txt",
                         "--out", tmp_path / "p.tsv")
    assert code == 0
    assert (tmp_path / "p.tsv").read_text(encoding="utf-8").split("\t")[0] == "imgs/a.png"


def dataset_with_train_line(folder: Path, line: str) -> list[str]:
    """A dataset whose validation line is good and whose one training line is ``line``: its -o args."""
    from conftest import data_overrides

    (folder / "ok.png").write_bytes(line_png("1"))
    (folder / "rec_gt_val.txt").write_text("ok.png\t1\n", encoding="utf-8")
    (folder / "rec_gt_train.txt").write_text(line + "\n", encoding="utf-8")
    return data_overrides(folder)


def test_one_problem_is_not_one_problems(run_cli, tmp_path, tiny_config):
    code, out, err = run_cli("data", "check", "-c", tiny_config, *dataset_with_train_line(tmp_path, "gone.png\t1"))
    assert code == 1 and "❌ not ready: 1 problem" in err and "1 problems" not in out + err


def test_a_folder_named_as_an_image_in_a_label_file_is_called_a_folder(run_cli, tmp_path, tiny_config):
    (tmp_path / "sub.png").mkdir()
    _, out, _ = run_cli("data", "check", "-c", tiny_config, *dataset_with_train_line(tmp_path, "sub.png\t1"))
    assert "image 'sub.png' in data_dir" in out and "is a folder, not an image file" in out


def test_a_bad_override_is_blamed_on_the_override_not_the_recipe(run_cli, tiny_config):
    code, _, err = run_cli("data", "check", "-c", tiny_config, "-o", "Global.epoch_num=-3")
    assert code == 2 and "override Global.epoch_num: Global.epoch_num must be positive" in err
    assert str(tiny_config) not in err


def test_a_misspelt_builtin_dict_lists_the_builtin_names(run_cli, tiny_config):
    code, _, err = run_cli("data", "check", "-c", tiny_config, "-o", "Global.character_dict_path=digitz")
    assert code == 2 and "did you mean 'digits'? (valid: digits, thai_full)" in err


def test_data_check_names_an_undecodable_image_without_a_file_object_repr(run_cli, tmp_path, tiny_config):
    (tmp_path / "text.png").write_text("not an image\n")
    _, out, _ = run_cli("data", "check", "-c", tiny_config, "--images", "decode",
                        *dataset_with_train_line(tmp_path, "text.png\t1"))
    assert "image 'text.png' cannot be read" in out and "no format Pillow reads" in out
    assert "BufferedReader" not in out


def test_a_nul_in_a_label_files_image_path_is_a_bad_line_not_a_traceback(tmp_path):
    from thaiocr.data import DataError, read_labelled_images

    labels = tmp_path / "labels.txt"
    labels.write_text("a\0b.png\t12\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"labels\.txt:1: .*holds a NUL character"):
        read_labelled_images(labels)


def test_serve_refuses_a_limit_that_is_not_positive(run_cli):
    code, _, err = run_cli("serve", "--model", "shipped-small", "--decode-slots", "0")
    assert code == 2 and "decode_slots must be positive, got 0" in err


def test_normalising_a_tone_repeated_before_a_vowel_is_idempotent():
    """Hypothesis found it: one pass moved a tone past the vowel, leaving its twin behind it."""
    from thaiocr.charset import normalize_text

    tone_tone_vowel = "\u0e48\u0e48\u0e34"
    assert normalize_text(tone_tone_vowel) == "\u0e34\u0e48" == normalize_text(normalize_text(tone_tone_vowel))
