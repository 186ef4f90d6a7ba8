"""Shared fixtures for the end-to-end tests: a tiny synthetic dataset and one tiny trained run, and
a ``moto_server`` standing in for AWS (``aws``) for the cloud tests.

All but ``aws`` are built once per test session; tests that change a run copy it first (``copy_run``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from thaiocr.cloud.aws import Aws

REPO = Path(__file__).resolve().parent.parent
TINY_CONFIG = REPO / "configs" / "rec" / "tiny_test.yml"
GUIDE_CONFIG = REPO / "configs" / "rec" / "numbers_config.yml"
N_TRAIN, N_VAL = 64, 16
TINY_STEPS_PER_EPOCH = N_TRAIN // 8  # batch 8, drop_last
TINY_EPOCHS = 2
MOTO_REGION = "us-east-1"


def data_overrides(data_dir: Path, train_labels: Path | None = None, val_labels: Path | None = None) -> list[str]:
    """``-o`` arguments that point both splits of a recipe at ``data_dir``."""
    train_labels = train_labels or data_dir / "rec_gt_train.txt"
    val_labels = val_labels or data_dir / "rec_gt_val.txt"
    pairs = [
        f"Train.dataset.data_dir={data_dir}",
        f"Train.dataset.label_file_list=[{train_labels}]",
        f"Eval.dataset.data_dir={data_dir}",
        f"Eval.dataset.label_file_list=[{val_labels}]",
    ]
    return [arg for pair in pairs for arg in ("-o", pair)]


def train_argv(data_dir: Path, run_dir: Path, *extra: str, config: Path = TINY_CONFIG) -> list[str]:
    """``thaiocr -q train`` arguments for ``config`` on ``data_dir``, saving into ``run_dir``."""
    return ["-q", "train", "-c", str(config), *data_overrides(data_dir),
            "-o", f"Global.save_model_dir={run_dir}", *extra]


TrainArgv = Callable[..., list[str]]


def val_images(labels: Path, n: int | None = None) -> list[Path]:
    lines = labels.read_text(encoding="utf-8").splitlines()[:n]
    return [labels.parent / line.split("\t")[0] for line in lines]


def sharpened_checkpoint(source: Path, out: Path) -> Path:
    """The trained checkpoint with the blank class suppressed, so that it reads non-empty text."""
    from thaiocr.checkpoint import load_checkpoint, save_checkpoint

    payload = load_checkpoint(source)
    bias = next(k for k in payload["model"] if k.startswith("head.") and k.endswith("bias"))
    payload["model"][bias] = payload["model"][bias].clone()
    payload["model"][bias][0] -= 50.0
    save_checkpoint(out, payload)
    return out


@pytest.fixture(scope="session")
def tiny_config() -> Path:
    return TINY_CONFIG


@pytest.fixture(scope="session")
def guide_config() -> Path:
    """The guide's ``numbers_config.yml``, verbatim."""
    return GUIDE_CONFIG


@pytest.fixture(scope="session")
def make_train_argv() -> TrainArgv:
    """``train_argv`` as a fixture: ``make_train_argv(data_dir, run_dir, *extra, config=...)``."""
    return train_argv


@dataclass(frozen=True)
class TinyRun:
    """A finished run of ``tiny_test.yml`` (``TINY_EPOCHS`` epochs) and the dataset it trained on."""

    data_dir: Path
    run_dir: Path
    steps_per_epoch: int = TINY_STEPS_PER_EPOCH
    epochs: int = TINY_EPOCHS

    @property
    def val_labels(self) -> Path:
        return self.data_dir / "rec_gt_val.txt"

    @property
    def best_model(self) -> Path:
        return self.run_dir / "best_model"


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training and 16 validation lines from the synthesiser (guide layout, digits only)."""
    from thaiocr.synth.lines import generate_dataset

    folder = tmp_path_factory.mktemp("tiny_data")
    generate_dataset(folder, n_train=N_TRAIN, n_val=N_VAL, seed=0, workers=1, progress=False)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """``thaiocr train`` of the tiny recipe, once per session; treat its folder as read-only."""
    from thaiocr.cli import main

    run_dir = tmp_path_factory.mktemp("tiny_run") / "run"
    assert main(train_argv(tiny_data, run_dir)) == 0
    return TinyRun(tiny_data, run_dir)


@pytest.fixture
def copy_run(tiny_run: TinyRun, tmp_path: Path) -> Callable[[], Path]:
    """Returns a function that copies the session's run folder into this test's tmp_path."""

    def copy() -> Path:
        return Path(shutil.copytree(tiny_run.run_dir, tmp_path / "run_copy"))

    return copy


@pytest.fixture(scope="session")
def fonts() -> list:
    """The Thai fonts installed on this machine (the suite skips font tests where there are none)."""
    from thaiocr.errors import ThaiOCRError
    from thaiocr.synth.fonts import discover_fonts

    try:
        return discover_fonts()
    except ThaiOCRError as exc:
        pytest.skip(str(exc))


def font_named(fonts: list, name: str):
    return next(font for font in fonts if font.name == name)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run_cli(*argv)`` -> (exit code, stdout, stderr), in-process; fails the test on a traceback."""
    from thaiocr.cli import main

    def run(*argv: object) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    return run


# --- AWS without AWS --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real ``moto_server`` on a free port, one per session."""
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Aws:
    """Fake credentials pointed at moto; nothing from this machine's own AWS set-up leaks in."""
    from thaiocr.cloud.aws import Aws

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    settings = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": MOTO_REGION, "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"), "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return Aws(MOTO_REGION)
