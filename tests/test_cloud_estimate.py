"""``cloud estimate``: the run's size from the recipe, a short real measurement, the scaled cloud rows."""

from __future__ import annotations

import pytest

from conftest import data_overrides
from thaiocr.cloud.estimate import (
    START_OVERHEAD,
    Measurement,
    count_evaluations,
    estimate,
    local_seconds,
    measure,
    run_size,
    steps_per_epoch,
)
from thaiocr.config import load_config
from thaiocr.errors import ThaiOCRError


@pytest.mark.parametrize(("total", "start", "every", "expected"), [
    (16, 0, 4, 4),  # steps 4, 8, 12, 16: the last is scheduled
    (18, 0, 4, 5),  # 4, 8, 12, 16 and the final judgement at 18
    (450, 0, 100, 5),  # the guide: 100, 200, 300, 400, then the end
    (10, 20, 5, 1),  # evaluation starts after the run: only the final one
])
def test_evaluations_follow_eval_batch_step(total, start, every, expected) -> None:
    assert count_evaluations(total, start, every) == expected


def test_steps_per_epoch_follow_the_loader() -> None:
    assert steps_per_epoch(304, 32, drop_last=True) == 9
    assert steps_per_epoch(304, 32, drop_last=False) == 10
    assert steps_per_epoch(20, 32, drop_last=True) == 1  # fewer lines than a batch: the partial batch stays


def test_the_run_size_comes_from_the_recipe_and_its_label_files(tiny_config, tiny_data) -> None:
    size = run_size(load_config(tiny_config, data_overrides(tiny_data)[1::2]))
    assert (size.train_lines, size.steps_per_epoch, size.total_steps) == (64, 8, 16)
    assert (size.eval_lines, size.eval_batches, size.evaluations) == (16, 1, 4)


def test_without_label_files_here_the_sample_count_is_asked_for(guide_config) -> None:
    config = load_config(guide_config, ["Global.character_dict_path=digits"])
    with pytest.raises(ThaiOCRError, match="--samples N"):
        run_size(config)
    size = run_size(config, samples=304)
    assert (size.total_steps, size.evaluations) == (50 * 9, 0)  # Eval files are not here either


def test_cloud_rows_scale_the_local_time_by_the_assumed_speeds(tiny_config, tiny_data) -> None:
    config = load_config(tiny_config, data_overrides(tiny_data)[1::2])
    result = estimate(config, ["ml.m5.large", "ml.g4dn.xlarge"], region="ap-southeast-1", steps=2)
    here, cpu, gpu = result.rows
    assert result.measurement.threads == 1 and result.measurement.step_seconds > 0  # the recipe's num_threads
    assert here.seconds == pytest.approx(local_seconds(result.size, result.measurement))
    speed = result.measurement.speed
    assert cpu.seconds == pytest.approx(here.seconds * speed / 1.0 + START_OVERHEAD)
    assert gpu.seconds == pytest.approx(here.seconds * speed / 6.0 + START_OVERHEAD)
    assert gpu.price.cost(gpu.seconds) > cpu.price.cost(cpu.seconds)
    table = result.table()
    assert "ml.g4dn.xlarge" in table and "~3 min" in table and "ap-southeast-1 may differ" in table


def test_the_local_time_counts_steps_and_evaluations(tiny_config, tiny_data) -> None:
    size = run_size(load_config(tiny_config, data_overrides(tiny_data)[1::2]))
    assert local_seconds(size, Measurement(2, 10, 0.5, 0.25)) == pytest.approx(16 * 0.5 + 4 * 1 * 0.25)


def test_measure_times_the_recipes_model(guide_config) -> None:
    config = load_config(guide_config, ["Global.character_dict_path=digits", "Global.num_threads=1",
                                        "Train.loader.batch_size_per_card=4", "Eval.loader.batch_size_per_card=4"])
    measured = measure(config, steps=1, warmup=1)
    assert measured.step_seconds > 0 and measured.eval_batch_seconds > 0 and measured.speed == pytest.approx(0.5 ** 0.8)


def test_estimate_on_the_command_line(tiny_config, tiny_data, run_cli) -> None:
    code, out, _ = run_cli("cloud", "estimate", "-c", tiny_config, *data_overrides(tiny_data), "--instance-type",
                           "ml.c5.xlarge", "--steps", "2", "--region", "us-east-1")
    assert code == 0
    assert "Measured here" in out and "this machine" in out and "ml.c5.xlarge" in out and "$0.204" in out
    code, _, err = run_cli("cloud", "estimate", "-c", tiny_config, "--instance-type", "ml.c5.xlarg")
    assert code == 2 and "did you mean 'ml.c5.xlarge'" in err
