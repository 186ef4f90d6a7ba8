"""The container side of a job, on a simulated /opt/ml tree (``SM_ROOT``): training, spot resume, failures.

The hyperparameters are the ones ``cloud train`` would send for the tiny recipe, so both sides of
the contract are tested together. A few training steps each.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import data_overrides
from thaiocr.cloud.container import FAILURE_LIMIT, SageMakerEnv, decode_value, join_instances, run_job, write_failure
from thaiocr.cloud.jobs import JobOptions, plan_job

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def write_hyperparameters(root: Path, values: dict) -> None:
    path = root / "input" / "config" / "hyperparameters.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values), encoding="utf-8")


def job_hyperparameters(config: Path, data: Path, *overrides: str) -> dict[str, str]:
    """What ``cloud train`` sends for ``config`` trained on the local dataset ``data``."""
    job = plan_job(config, [*data_overrides(data)[1::2], *overrides], "s3://thaiocr-data/tiny", ROLE,
                   JobOptions("ml.m5.xlarge", 3600), "us-east-1")
    return job.request["HyperParameters"]


def run_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_a_job_trains_from_its_channel_into_the_model_dir(tiny_config, tiny_data, tmp_path) -> None:
    root = tmp_path / "opt_ml"
    write_hyperparameters(root, job_hyperparameters(tiny_config, tiny_data, "Global.epoch_num=1"))
    env = SageMakerEnv(root, {"SM_CHANNEL_TRAINING": str(tiny_data)})
    result = run_job(env, progress=False, use_gpu=False)
    assert result.steps == 8
    model = root / "model"
    assert {"best_accuracy.pt", "latest.pt", "iter_epoch_1.pt", "config.yml", "best_model"} <= run_files(model)
    assert (model / "best_model" / "inference.onnx").is_file()
    saved = yaml.safe_load((model / "config.yml").read_text(encoding="utf-8"))
    assert saved["Train"]["dataset"]["data_dir"] == str(tiny_data)
    assert saved["Eval"]["dataset"]["label_file_list"] == [str(tiny_data / "rec_gt_val.txt")]
    assert saved["Global"]["save_inference_dir"] is None
    assert not (root / "output" / "failure").exists()


def test_a_spot_job_restarted_after_an_interruption_resumes_from_its_checkpoints(
        tiny_config, tiny_data, tmp_path, monkeypatch, run_cli) -> None:
    import thaiocr.train

    root = tmp_path / "opt_ml"
    shutil.copytree(tiny_data, root / "input" / "data" / "training")  # where SageMaker puts the channel
    (root / "checkpoints").mkdir(parents=True)  # SageMaker makes it when the job has a CheckpointConfig
    write_hyperparameters(root, job_hyperparameters(tiny_config, tiny_data))  # 2 epochs of 8 steps
    monkeypatch.setenv("SM_ROOT", str(root))
    real_train = thaiocr.train.train

    def interrupted_after_step_8(config, **kwargs):
        return real_train(config, on_eval=lambda event: event.step >= 8, **kwargs)

    monkeypatch.setattr(thaiocr.train, "train", interrupted_after_step_8)
    code, _, _ = run_cli("-q", "cloud", "entry", "train")
    assert code == 0
    assert "latest.pt" in run_files(root / "checkpoints")
    monkeypatch.setattr(thaiocr.train, "train", real_train)  # the instance comes back: same job, same settings
    code, out, err = run_cli("-q", "cloud", "entry", "train")
    assert code == 0
    assert f"Resuming from {root / 'checkpoints' / 'latest.pt'} at epoch 1, step 8" in err  # mid-epoch
    assert "Finished 16 steps" in out
    assert {"iter_epoch_2.pt", "best_accuracy.pt", "best_model"} <= run_files(root / "model")


def test_a_stop_keeps_what_the_run_had_written(tiny_config, tiny_data, tmp_path, monkeypatch) -> None:
    """SageMaker stops a job with SIGTERM; a spot job's checkpoints are copied to the model folder first."""
    import os
    import signal
    import time

    import thaiocr.train
    from thaiocr.cloud.container import main

    def stopped_while_training(config, **kwargs):
        (Path(config.Global.save_model_dir) / "latest.pt").write_bytes(b"weights so far")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("SIGTERM did not stop the job")

    (tmp_path / "checkpoints").mkdir()
    write_hyperparameters(tmp_path, job_hyperparameters(tiny_config, tiny_data))
    monkeypatch.setenv("SM_ROOT", str(tmp_path))
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(tiny_data))
    monkeypatch.setattr(thaiocr.train, "train", stopped_while_training)
    before = signal.getsignal(signal.SIGTERM)
    assert main(progress=False) == 0
    assert (tmp_path / "model" / "latest.pt").read_bytes() == b"weights so far"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler does not outlive the job


# --- failures -----------------------------------------------------------------------------------


def run_failing(root: Path, monkeypatch, run_cli) -> tuple[int, str, str]:
    monkeypatch.setenv("SM_ROOT", str(root))
    code, _, err = run_cli("cloud", "entry")
    failure = root / "output" / "failure"
    return code, failure.read_text(encoding="utf-8") if failure.exists() else "", err


def test_malformed_hyperparameters_fail_the_job_with_a_reason(tmp_path, monkeypatch, run_cli) -> None:
    path = tmp_path / "input" / "config" / "hyperparameters.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"config.Global": "{\\"epoch_num\\": 1}", ', encoding="utf-8")
    code, reason, err = run_failing(tmp_path, monkeypatch, run_cli)
    assert code == 2 and "malformed JSON" in reason and "malformed JSON" in err


@pytest.mark.parametrize(("values", "message"), [
    ({"overrides": "[]"}, "hold no recipe"),
    ({"config.Global": "{}"}, "lack 'data'"),
    ({"config.Global": "{}", "data": '{"channel": "training", "Train": {}}'}, "label_file_list must be a list"),
    ({"config.Global": "{}", "overrides": '"Global.epoch_num=1"', "data": "{}"}, "list of KEY=VALUE"),
    ({"config.Global": "{}", "data": json.dumps({"channel": "training", "Train": {
        "data_dir": "../etc", "label_file_list": ["a.txt"]}})}, "leaves the dataset folder"),
])
def test_bad_hyperparameters_are_named(tmp_path, monkeypatch, run_cli, values, message) -> None:
    write_hyperparameters(tmp_path, values)
    code, reason, _ = run_failing(tmp_path, monkeypatch, run_cli)
    assert code == 2 and message in reason


def test_a_missing_channel_or_missing_labels_fail_with_the_path(tiny_config, tiny_data, tmp_path, monkeypatch,
                                                                run_cli) -> None:
    write_hyperparameters(tmp_path, job_hyperparameters(tiny_config, tiny_data))
    code, reason, _ = run_failing(tmp_path, monkeypatch, run_cli)
    assert code == 2 and "data channel 'training' is not at" in reason
    (tmp_path / "input" / "data" / "training").mkdir(parents=True)
    code, reason, _ = run_failing(tmp_path, monkeypatch, run_cli)
    assert code == 2 and "rec_gt_train.txt" in reason


def test_an_unexpected_error_still_reaches_the_failure_reason(tiny_config, tiny_data, tmp_path, monkeypatch,
                                                              run_cli) -> None:
    import thaiocr.train

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(thaiocr.train, "train", broken)
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(tiny_data))
    write_hyperparameters(tmp_path, job_hyperparameters(tiny_config, tiny_data))
    monkeypatch.setenv("SM_ROOT", str(tmp_path))
    from thaiocr.cloud.container import main

    assert main() == 1
    assert (tmp_path / "output" / "failure").read_text(encoding="utf-8") == "RuntimeError: CUDA out of memory"


def test_no_hyperparameters_file_means_not_a_container(tmp_path, monkeypatch, run_cli) -> None:
    code, reason, _ = run_failing(tmp_path, monkeypatch, run_cli)
    assert code == 2 and "is this a SageMaker training container" in reason


def test_the_failure_reason_keeps_what_sagemaker_shows(tmp_path) -> None:
    env = SageMakerEnv(tmp_path, {})
    write_failure(env, "x" * 5000)
    assert len((tmp_path / "output" / "failure").read_text(encoding="utf-8")) == FAILURE_LIMIT


def test_values_are_json_decoded_when_they_are_json() -> None:
    assert decode_value('"ml"') == "ml"
    assert decode_value("plain text") == "plain text"
    assert decode_value('{"epoch_num": 3}') == {"epoch_num": 3}
    assert decode_value("3") == 3


def test_sagemaker_environment_variables_move_the_folders(tmp_path) -> None:
    env = SageMakerEnv.from_environ(environ={"SM_ROOT": str(tmp_path), "SM_MODEL_DIR": "/m",
                                             "SM_CHANNEL_TRAINING": "/data/t"})
    assert env.hyperparameters_file == tmp_path / "input" / "config" / "hyperparameters.json"
    assert env.model_dir == Path("/m") and env.channel("training") == Path("/data/t")
    assert env.channel("validation") == tmp_path / "input" / "data" / "validation"
    assert env.run_dir() == Path("/m")  # no checkpoints folder: not a spot job


def test_a_multi_instance_job_sets_up_torch_distributed_from_the_host_list() -> None:
    environ = {"SM_HOSTS": '["algo-1", "algo-2"]', "SM_CURRENT_HOST": "algo-2"}
    join_instances(environ)
    assert (environ["RANK"], environ["WORLD_SIZE"], environ["MASTER_ADDR"]) == ("1", "2", "algo-1")
    single = {"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1"}
    join_instances(single)
    assert "WORLD_SIZE" not in single  # one instance trains as one process
