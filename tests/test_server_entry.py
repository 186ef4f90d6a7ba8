"""How the server is started: the container's ``serve`` script, model folders as SageMaker unpacks
them, and ``thaiocr serve`` (whose web stack stays out of ``thaiocr --help``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from thaiocr.data import read_labelled_images
from thaiocr.errors import ThaiOCRError
from thaiocr.predict import Recognizer
from thaiocr.server import Limits, resolve_model

REPO = Path(__file__).resolve().parent.parent
SERVE_SCRIPT = REPO / "docker" / "serve"
TRAIN_SCRIPT = REPO / "docker" / "train"


def run_serve_script(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Run docker/serve with a stand-in ``thaiocr`` on PATH; returns the arguments it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "thaiocr"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    environ = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", **env}
    done = subprocess.run(["sh", str(SERVE_SCRIPT), *args], env=environ, capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_serve_script_defaults_to_sagemaker_model_dir_and_port_with_pages(tmp_path):
    assert run_serve_script(tmp_path) == ["serve", "--host", "0.0.0.0", "--port", "8080", "--model", "/opt/ml/model",
                                          "--detector", "ppocrv4"]


def test_serve_script_takes_model_port_and_detector_from_the_environment(tmp_path):
    model_dir = tmp_path / "opt" / "ml" / "model"
    argv = run_serve_script(tmp_path, "--max-batch", "16", THAIOCR_MODEL=str(model_dir), SAGEMAKER_BIND_TO_PORT="9090",
                            THAIOCR_DETECTOR="")
    assert argv == ["serve", "--host", "0.0.0.0", "--port", "9090", "--model", str(model_dir), "--max-batch", "16"]
    detector = tmp_path / "my det.onnx"
    assert run_serve_script(tmp_path, THAIOCR_DETECTOR=str(detector))[-2:] == ["--detector", str(detector)]


def test_the_sagemaker_image_answers_both_commands_sagemaker_runs(tmp_path):
    """SageMaker runs ``docker run IMAGE train`` for a job and ``docker run IMAGE serve`` for an
    endpoint: the image of ``cloud image`` has no ENTRYPOINT and both scripts on PATH."""
    dockerfile = (REPO / "Dockerfile.sagemaker").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert "ENTRYPOINT" not in [words[0] for words in instructions]
    assert ["COPY", "docker/train docker/serve /usr/local/bin/"] in instructions
    assert ["CMD", '["serve"]'] in instructions and 'pip install ".[serve]"' in dockerfile
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    (bin_dir / "python").chmod(0o755)
    done = subprocess.run(["sh", str(TRAIN_SCRIPT), "train"], env={"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["-m", "thaiocr.cloud.container", "train"]


def test_an_unpacked_model_archive_is_found_below_the_model_dir(tiny_run, tmp_path):
    model_dir = tmp_path / "opt" / "ml" / "model"
    shutil.copytree(tiny_run.best_model, model_dir / "numbers" / "best_model")
    found = resolve_model(model_dir)
    assert found == model_dir / "numbers" / "best_model" / "inference.onnx"
    assert Recognizer.from_path(found).charset.num_classes > 1
    assert resolve_model(model_dir / "numbers") == model_dir / "numbers"  # what from_path reads as it is


def test_a_model_dir_with_no_or_several_models_is_refused(tiny_run, tmp_path):
    with pytest.raises(ThaiOCRError, match="found 0"):
        resolve_model(tmp_path)
    for name in ("a", "b"):
        shutil.copytree(tiny_run.best_model, tmp_path / name)
    with pytest.raises(ThaiOCRError, match="found 2"):
        resolve_model(tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("inside", ["numbers/best_model", "best_model", "."],
                         ids=["a-run-below", "cloud-deploy-job", "cloud-deploy-model-folder"])
def test_container_entry_serves_the_model_it_finds_and_stops_gracefully(tiny_run, tmp_path, inside):
    """docker/serve with the real ``thaiocr`` on PATH, a simulated /opt/ml/model holding an unpacked
    archive (a run folder below it; a job's run folder, as `cloud deploy --job` ships it; a model
    folder's files, as `cloud deploy --model` packs them), a port from SAGEMAKER_BIND_TO_PORT, the
    default detector; SIGTERM stops it after uvicorn's graceful shutdown."""
    model_dir = tmp_path / "opt" / "ml" / "model"
    shutil.copytree(tiny_run.best_model, model_dir / inside, dirs_exist_ok=True)
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "THAIOCR_MODEL": str(model_dir), "SAGEMAKER_BIND_TO_PORT": str(port)}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(["sh", str(SERVE_SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/ping"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        image = read_labelled_images(tiny_run.val_labels)[0].image_path.read_bytes()
        response = httpx.post(f"{url}/invocations", content=image, headers={"content-type": "image/png"})
        assert response.status_code == 200 and len(response.json()["lines"]) == 1
        assert httpx.get(f"{url}/v1/model").json()["page_mode"] is True  # the container reads pages too
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    text = log.read_text()
    assert (Path("model") / inside / "inference.onnx").as_posix() in text and "POST /invocations 200" in text
    assert "Finished server process" in text  # uvicorn's graceful shutdown ran


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_cli_serve_passes_its_options(monkeypatch, tmp_path):
    import thaiocr.server
    from thaiocr.cli import main

    calls = []
    monkeypatch.setattr(thaiocr.server, "serve", lambda model, **options: calls.append((model, options)))
    assert main(["serve", "--model", str(tmp_path), "--port", "9000", "--max-upload-mb", "0.5",
                 "--max-pixels", "1000", "--max-batch", "8"]) == 0
    model, options = calls[0]
    assert model == tmp_path and options["port"] == 9000 and options["host"] == "127.0.0.1"
    assert options["limits"] == Limits(max_upload_bytes=512 * 1024, max_pixels=1000, max_images=256)
    assert options["max_batch"] == 8 and options["detector"] is None


def test_help_does_not_import_the_web_stack():
    code = ("import sys, contextlib, io\nfrom thaiocr.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
