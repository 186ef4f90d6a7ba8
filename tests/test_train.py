"""End-to-end training: the run folder's layout, resuming (also after SIGKILL), the guide's config."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from thaiocr.checkpoint import load_checkpoint
from thaiocr.cli import main
from thaiocr.config import load_config
from thaiocr.train import EvalEvent, pick_device, train

EVAL_EVERY = 4  # tiny_test.yml: eval_batch_step [0, 4]


def state_of(checkpoint: Path) -> dict:
    return load_checkpoint(checkpoint)["state"]


def history_steps(checkpoint: Path) -> list[int]:
    return [row["step"] for row in state_of(checkpoint)["history"]]


def checkpoints_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.pt"))


# --- the run folder -----------------------------------------------------------------------------


def test_train_writes_the_guides_run_layout(tiny_run) -> None:
    run = tiny_run.run_dir
    expected = ["best_accuracy.pt", "latest.pt", "config.yml",
                *(f"iter_epoch_{n}.pt" for n in range(1, tiny_run.epochs + 1)),
                "best_model/inference.onnx", "best_model/dict.txt", "best_model/config.yml"]
    for name in expected:
        assert (run / name).is_file(), f"{name} missing from the run folder"
    for checkpoint in checkpoints_in(run):
        payload = load_checkpoint(checkpoint)
        assert payload["preprocess"] == {"height": 32, "max_width": 96}
        assert payload["chars"][:10] == list("0123456789")
    total = tiny_run.epochs * tiny_run.steps_per_epoch
    assert state_of(run / "latest.pt")["global_step"] == total
    assert history_steps(run / "latest.pt") == list(range(EVAL_EVERY, total + 1, EVAL_EVERY))
    assert state_of(run / "iter_epoch_1.pt")["global_step"] == tiny_run.steps_per_epoch


def test_the_saved_config_is_a_loadable_recipe_with_the_runs_paths(tiny_run) -> None:
    config = load_config(tiny_run.run_dir / "config.yml")
    assert config.Global.save_model_dir == tiny_run.run_dir
    assert config.Train.dataset.data_dir == tiny_run.data_dir
    assert config.Architecture.Neck["hidden_size"] == 16


def test_history_numbers_epochs_from_one_up_to_epoch_num(tiny_run, tmp_path) -> None:
    # One evaluation, at the very end of the run (after the last epoch closed): still epoch 1 of 1.
    overrides = ["Global.epoch_num=1", "Global.eval_batch_step=1000", f"Global.save_model_dir={tmp_path}"]
    config = load_config(tiny_run.run_dir / "config.yml", overrides)
    events: list[EvalEvent] = []
    result = train(config, resume=False, progress=False, on_eval=lambda e: bool(events.append(e)))
    assert [(row["epoch"], row["step"]) for row in result.history] == [(1, tiny_run.steps_per_epoch)]
    assert [e.epoch for e in events] == [0]  # EvalEvent.epoch counts from 0, like the trainer's state


def test_artifacts_are_readable_as_the_umask_allows(tiny_run, tmp_path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    wanted = stat.S_IMODE(plain.stat().st_mode)
    for name in ("latest.pt", "best_accuracy.pt", "config.yml", "best_model/inference.onnx", "best_model/dict.txt"):
        assert stat.S_IMODE((tiny_run.run_dir / name).stat().st_mode) == wanted, name


# --- resuming -----------------------------------------------------------------------------------


def test_a_second_run_resumes_from_latest(copy_run, tiny_run, make_train_argv, capsys) -> None:
    run = copy_run()
    before = state_of(run / "latest.pt")
    epochs = tiny_run.epochs + 1
    assert main(make_train_argv(tiny_run.data_dir, run, "-o", f"Global.epoch_num={epochs}")) == 0
    err = capsys.readouterr().err
    assert f"Resuming from {run / 'latest.pt'} at epoch {epochs}, step {before['global_step']}" in err
    after = state_of(run / "latest.pt")
    assert after["global_step"] == epochs * tiny_run.steps_per_epoch
    assert after["history"][: len(before["history"])] == before["history"]
    assert state_of(run / f"iter_epoch_{epochs}.pt")["global_step"] == after["global_step"]


def test_no_resume_starts_afresh(copy_run, tiny_run, make_train_argv, capsys) -> None:
    run = copy_run()
    assert main(make_train_argv(tiny_run.data_dir, run, "-o", "Global.epoch_num=1", "--no-resume")) == 0
    assert "Resuming" not in capsys.readouterr().err
    assert state_of(run / "latest.pt")["global_step"] == tiny_run.steps_per_epoch
    assert history_steps(run / "latest.pt") == [EVAL_EVERY, 2 * EVAL_EVERY]


def test_resuming_mid_epoch_gives_the_weights_of_an_uninterrupted_run(tiny_run, tmp_path) -> None:
    config = load_config(tiny_run.run_dir / "config.yml", [f"Global.save_model_dir={tmp_path / 'run'}"])
    stopped = train(config, resume=False, progress=False, on_eval=lambda event: event.step == EVAL_EVERY)
    assert stopped.steps == EVAL_EVERY < tiny_run.steps_per_epoch
    resumed = train(config, progress=False)
    assert resumed.steps == tiny_run.epochs * tiny_run.steps_per_epoch
    mine = load_checkpoint(tmp_path / "run" / "latest.pt")["model"]
    reference = load_checkpoint(tiny_run.run_dir / "latest.pt")["model"]
    assert mine.keys() == reference.keys()
    assert all(torch.equal(mine[k], reference[k]) for k in mine), "resumed weights differ"


def _wait_for(path: Path, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before writing {path}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {path} after {timeout} s")
        time.sleep(0.05)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_with_sigkill_leaves_loadable_checkpoints_and_resumes(
    tiny_run, tmp_path, make_train_argv, capsys
) -> None:
    run = tmp_path / "run"
    argv = make_train_argv(tiny_run.data_dir, run, "-o", "Global.eval_batch_step=[0, 2]")
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "thaiocr", *argv, "-o", "Global.epoch_num=50"],
                                stdout=subprocess.DEVNULL, stderr=stderr, cwd=tmp_path)
        _wait_for(run / "latest.pt", proc, log)
        time.sleep(0.5)  # a few more steps and checkpoint writes, then the kill lands anywhere
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = state_of(run / "latest.pt")["global_step"]
    for checkpoint in checkpoints_in(run):
        load_checkpoint(checkpoint)  # raises on a half-written file
    # Temp files a kill may leave behind never look like checkpoints.
    assert all(p.suffix == ".tmp" for p in run.iterdir() if p.name.startswith("."))

    assert main([*argv, "-o", "Global.epoch_num=1"]) == 0
    err = capsys.readouterr().err
    assert f"step {killed_at} " in err and "Resuming from" in err
    assert state_of(run / "latest.pt")["global_step"] == max(killed_at, tiny_run.steps_per_epoch)
    assert (run / "best_model" / "inference.onnx").is_file()


# --- the guide's config -------------------------------------------------------------------------


def _subset(labels: Path, n: int, out: Path) -> Path:
    lines = labels.read_text(encoding="utf-8").splitlines(keepends=True)[:n]
    out.write_text("".join(lines), encoding="utf-8")
    return out


def test_use_gpu_without_a_gpu_falls_back_to_the_cpu_with_a_message(capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert pick_device(True) == torch.device("cpu")
    assert "no GPU is available: training on the CPU" in capsys.readouterr().err


@pytest.mark.slow  # about 15 s on 2 shared cores: the guide's large MobileNetV3 is slow on a CPU
def test_the_guides_config_trains_with_path_overrides_only(guide_config, tiny_data, tmp_path, capsys) -> None:
    """numbers_config.yml as written: /opt/ml paths overridden, use_gpu true, num_workers 4, large model."""
    train_labels = _subset(tiny_data / "rec_gt_train.txt", 8, tiny_data.parent / "guide_train.txt")
    val_labels = _subset(tiny_data / "rec_gt_val.txt", 4, tiny_data.parent / "guide_val.txt")
    run, inference = tmp_path / "model", tmp_path / "model" / "inference"
    overrides = {
        "Global.save_model_dir": run,
        "Global.save_inference_dir": inference,
        "Global.character_dict_path": "digits",
        "Global.epoch_num": 1,  # not a path: keeps the test short
        "Train.dataset.data_dir": tiny_data,
        "Train.dataset.label_file_list": f"[{train_labels}]",
        "Eval.dataset.data_dir": tiny_data,
        "Eval.dataset.label_file_list": f"[{val_labels}]",
    }
    argv = ["-q", "train", "-c", str(guide_config)]
    for key, value in overrides.items():
        argv += ["-o", f"{key}={value}"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    if not torch.cuda.is_available():
        assert "no GPU is available: training on the CPU" in err
    assert (run / "best_accuracy.pt").is_file() and (run / "latest.pt").is_file()
    for folder in (run / "best_model", inference):
        assert {p.name for p in folder.iterdir()} >= {"inference.onnx", "dict.txt", "config.yml"}
    payload = load_checkpoint(run / "latest.pt")
    assert payload["preprocess"] == {"height": 32, "max_width": 128}
    assert payload["architecture"]["Backbone"]["model_name"] == "large"
