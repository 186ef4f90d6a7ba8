"""DDP training: torchrun with 2 CPU processes (gloo) against one process with the same global batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from thaiocr.distributed import DistContext, RankSlices, context_from_env, sagemaker_environment, sagemaker_hosts
from thaiocr.errors import ThaiOCRError


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    state = torch.load(run_dir / "latest.pt", map_location="cpu", weights_only=False)["state"]
    return [tuple(pair) for pair in state["losses"]]


def _torchrun(argv: list[str], procs: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
               "-m", "thaiocr", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def same_width_data(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset with every image 96x32, so a half batch is padded exactly as the whole one."""
    folder = tmp_path_factory.mktemp("same_width")
    shutil.copytree(tiny_data, folder, dirs_exist_ok=True)
    for path in (folder / "thai_data").rglob("*.png"):
        Image.open(path).convert("RGB").resize((96, 32)).save(path)
    return folder


@pytest.fixture(scope="module")
def ddp_and_single(same_width_data: Path, make_train_argv, tmp_path_factory: pytest.TempPathFactory):
    """One 2-process DDP run (batch 8 per process) and one single-process run with batch 16."""
    from thaiocr.cli import main

    root = tmp_path_factory.mktemp("ddp")
    ddp = _torchrun(make_train_argv(same_width_data, root / "ddp"))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert main(make_train_argv(same_width_data, root / "single", "-o", "Train.loader.batch_size_per_card=16")) == 0
    return root / "ddp", root / "single", ddp


def test_ddp_follows_the_single_process_loss_curve(ddp_and_single) -> None:
    ddp_dir, single_dir, _ = ddp_and_single
    ddp, single = _losses(ddp_dir), _losses(single_dir)
    assert [step for step, _ in ddp] == [step for step, _ in single]  # same number of global steps
    for (step, a), (_, b) in zip(ddp, single, strict=True):
        # The only difference: batch norm sees 8 lines per process instead of 16.
        assert a == pytest.approx(b, rel=0.1), f"step {step}: DDP loss {a:.4f} vs one process {b:.4f}"


def test_ddp_writes_checkpoints_and_model_once(ddp_and_single) -> None:
    ddp_dir, _, result = ddp_and_single
    assert (ddp_dir / "best_model" / "inference.onnx").is_file()
    assert sorted(p.name for p in ddp_dir.glob("iter_epoch_*.pt")) == ["iter_epoch_1.pt", "iter_epoch_2.pt"]
    assert result.stdout.count("Finished") == 1  # rank 0 reports; rank 1 stays quiet
    assert "x 2 processes (DDP)" in result.stderr


def test_ddp_resumes_from_latest(ddp_and_single, same_width_data: Path, make_train_argv, tmp_path: Path) -> None:
    ddp_dir, _, _ = ddp_and_single
    run = tmp_path / "run"
    run.mkdir()
    (run / "latest.pt").write_bytes((ddp_dir / "iter_epoch_1.pt").read_bytes())  # as if killed after epoch 1
    (run / "best_accuracy.pt").write_bytes((ddp_dir / "best_accuracy.pt").read_bytes())
    resumed = _torchrun(make_train_argv(same_width_data, run))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stderr.count("Resuming from") == 1
    assert "at epoch 2" in resumed.stderr
    assert _losses(run)[-1][0] == _losses(ddp_dir)[-1][0]


def test_rank_slices_split_every_global_batch() -> None:
    batches = [[0, 1, 2, 3], [4, 5, 6, 7]]
    slices = [list(RankSlices(batches, DistContext(rank=r, world_size=2))) for r in (0, 1)]
    assert slices == [[[0, 1], [4, 5]], [[2, 3], [6, 7]]]


def test_context_from_env() -> None:
    assert context_from_env({}) == DistContext()
    context = context_from_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    assert (context.rank, context.world_size, context.local_world_size, context.is_main) == (1, 4, 2, False)
    with pytest.raises(ThaiOCRError, match="RANK=4 does not fit WORLD_SIZE=2"):
        context_from_env({"RANK": "4", "WORLD_SIZE": "2"})
    with pytest.raises(ThaiOCRError, match="WORLD_SIZE='two'"):
        context_from_env({"WORLD_SIZE": "two"})


def test_sagemaker_hosts_become_torch_distributed_variables() -> None:
    env = {"SM_HOSTS": json.dumps(["algo-2", "algo-1"]), "SM_CURRENT_HOST": "algo-2"}
    hosts, current = sagemaker_hosts(env)
    variables = sagemaker_environment(hosts, current)
    assert variables["MASTER_ADDR"] == "algo-1"
    assert (variables["RANK"], variables["WORLD_SIZE"]) == ("1", "2")
    assert sagemaker_hosts({"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1"}) is None  # one instance
    with pytest.raises(ThaiOCRError, match="not a JSON list"):
        sagemaker_hosts({"SM_HOSTS": "algo-1,algo-2", "SM_CURRENT_HOST": "algo-1"})
    with pytest.raises(ThaiOCRError, match="not in SM_HOSTS"):
        sagemaker_environment(["algo-1", "algo-2"], "algo-9")
