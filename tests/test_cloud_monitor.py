"""Watching a job: status lines, summaries and costs, failures, stops, spot interruptions, Ctrl-C.

moto's training jobs jump straight to Completed, so the job's life is scripted with botocore's
Stubber on a real SageMaker client (which also checks every request and response against the
API model). Sleep, clock and prompt are injected: the tests take no time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from thaiocr.cloud.aws import Aws, AwsError
from thaiocr.cloud.monitor import stop_job, summary, watch

JOB = "thaiocr-numbers-20250807-100059"
CREATED = datetime(2025, 8, 7, 3, 0, 59, tzinfo=timezone.utc)
LINE = re.compile(r"\[\d\d:\d\d:\d\d\] Status: \w+ \| Secondary: \w+ \| Time: \d+s")


def description(status: str = "InProgress", secondary: str = "Training", **extra) -> dict:
    return {
        "TrainingJobName": JOB,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://bucket/thaiocr/{JOB}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": CREATED,
        **extra,
    }


def finished(status: str, training: int = 781, billable: int = 781, **extra) -> dict:
    return description(status, status, TrainingTimeInSeconds=training, BillableTimeInSeconds=billable,
                       TrainingEndTime=CREATED + timedelta(seconds=training + 60), **extra)


@pytest.fixture
def sagemaker() -> Iterator[tuple]:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def script(stubber: Stubber, *descriptions: dict) -> None:
    for item in descriptions:
        stubber.add_response("describe_training_job", item, {"TrainingJobName": JOB})


class Clock:
    """``now`` moves on by each ``sleep``; sleeping can be made to raise Ctrl-C once."""

    def __init__(self, interrupt_on: int | None = None) -> None:
        self.time = CREATED
        self.sleeps: list[float] = []
        self.interrupt_on = interrupt_on

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) == self.interrupt_on:
            raise KeyboardInterrupt
        self.time += timedelta(seconds=seconds)


def run_watch(client, clock: Clock, answers: list[str] | None = None) -> tuple:
    printed: list[str] = []
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return answers.pop(0)

    result = watch(client, JOB, "us-east-1", poll=30, sleep=clock.sleep, now=clock.now, ask=ask, out=printed.append)
    return result, "\n".join(printed), prompts


def test_a_job_that_completes_prints_status_lines_and_the_cost(sagemaker) -> None:
    client, stubber = sagemaker
    launching = [{"Status": "Starting", "StartTime": CREATED, "StatusMessage": "Launching requested ML instances"}]
    script(stubber, description(secondary="Starting", SecondaryStatusTransitions=launching),
           description(secondary="Training"), finished("Completed"))
    clock = Clock()
    result, text, _ = run_watch(client, clock)
    assert result.exit_code == 0 and not result.detached
    lines = [line for line in text.splitlines() if LINE.fullmatch(line)]
    assert [line.split("] ", 1)[1] for line in lines] == [
        "Status: InProgress | Secondary: Starting | Time: 0s",
        "Status: InProgress | Secondary: Training | Time: 30s",
        "Status: Completed | Secondary: Completed | Time: 841s",
    ]
    assert clock.sleeps == [30, 30]
    assert text.count("Launching requested ML instances") == 1
    assert "Billable time: 781 s (~13 min) x 1 instance" in text
    assert "Estimated cost: $0.16 (ml.g4dn.xlarge at $0.736/h, us-east-1 list price)" in text
    assert f"Model artifacts: s3://bucket/thaiocr/{JOB}/output/model.tar.gz" in text
    assert f"thaiocr cloud download {JOB}" in text
    assert "Spot savings" not in text


def test_a_failed_job_shows_its_reason_and_where_the_logs_are(sagemaker) -> None:
    client, stubber = sagemaker
    reason = "AlgorithmError: thaiocr: error: rec_gt_train.txt: label file not found"
    script(stubber, description(), finished("Failed", 40, 40, FailureReason=reason))
    result, text, _ = run_watch(client, Clock())
    assert result.exit_code == 1
    assert f"Failure reason: {reason}" in text and f"thaiocr cloud logs {JOB}" in text
    assert "Model artifacts" not in text


def test_a_spot_job_interrupted_and_resumed_reports_its_savings(sagemaker) -> None:
    client, stubber = sagemaker
    checkpoints = {"S3Uri": f"s3://bucket/thaiocr/{JOB}/checkpoints/", "LocalPath": "/opt/ml/checkpoints"}
    spot = {"EnableManagedSpotTraining": True, "CheckpointConfig": checkpoints}
    script(stubber, description(**spot), description(secondary="Interrupted", **spot),
           description(secondary="Restarting", **spot), description(**spot),
           finished("Completed", training=1000, billable=400, **spot))
    result, text, _ = run_watch(client, Clock())
    assert result.exit_code == 0
    assert "Spot capacity was reclaimed" in text and f"s3://bucket/thaiocr/{JOB}/checkpoints/" in text
    assert "Spot savings: 60% (billed 400 s of 1000 s trained)" in text
    assert "Estimated cost: $0.082" in text  # 400 billable seconds at $0.736/h


def test_ctrl_c_then_yes_stops_the_job_and_watches_it_end(sagemaker) -> None:
    client, stubber = sagemaker
    script(stubber, description(), description())  # the watch, then stop_job's look
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": JOB})
    script(stubber, description("Stopping", "Stopping"), finished("Stopped", 90, 90))
    result, text, prompts = run_watch(client, Clock(interrupt_on=1), ["y"])
    assert prompts and JOB in prompts[0]
    assert "Stopping " + JOB in text and result.exit_code == 1
    assert result.description["TrainingJobStatus"] == "Stopped"


def test_ctrl_c_then_no_detaches_and_says_how_to_reattach(sagemaker) -> None:
    client, stubber = sagemaker
    script(stubber, description())  # no stop_training_job: the Stubber fails on any unexpected call
    result, text, _ = run_watch(client, Clock(interrupt_on=1), ["n"])
    assert result.detached and result.exit_code == 0
    assert f"thaiocr cloud status {JOB} --watch" in text and f"thaiocr cloud stop {JOB}" in text


def test_ctrl_c_at_the_prompt_also_detaches(sagemaker) -> None:
    client, stubber = sagemaker
    script(stubber, description())
    clock = Clock(interrupt_on=1)

    def ask(_: str) -> str:
        raise KeyboardInterrupt

    result = watch(client, JOB, "us-east-1", sleep=clock.sleep, now=clock.now, ask=ask, out=lambda _: None)
    assert result.detached


def test_an_unknown_job_is_named(sagemaker) -> None:
    client, stubber = sagemaker
    stubber.add_client_error("describe_training_job", "ValidationException", "Requested resource not found.")
    with pytest.raises(AwsError, match=f"no training job named '{JOB}' in us-east-1"):
        watch(client, JOB, "us-east-1", sleep=lambda _: None, out=lambda _: None)


def test_stopping_a_finished_job_is_not_an_error(sagemaker) -> None:
    client, stubber = sagemaker
    script(stubber, finished("Completed"))
    assert stop_job(client, JOB) == f"{JOB} is Completed: nothing to stop"


def test_a_running_jobs_summary_has_no_cost_yet() -> None:
    text = summary(description(), "ap-southeast-1", CREATED + timedelta(seconds=125))
    assert f"{JOB} is running" in text and "Time since created: 125 s" in text and "cost" not in text.lower()


def test_a_price_from_another_region_says_so() -> None:
    text = summary(finished("Completed"), "ap-southeast-1")
    assert "us-east-1 list price; ap-southeast-1 may differ" in text


def test_cloud_status_and_stop_on_the_command_line(sagemaker, run_cli, monkeypatch) -> None:
    client, stubber = sagemaker
    monkeypatch.setattr(Aws, "connect", classmethod(lambda cls, region=None: cls("us-east-1", {"sagemaker": client})))
    script(stubber, finished("Completed"))
    code, out, _ = run_cli("cloud", "status", JOB)
    assert code == 0 and "Status: Completed" in out and "$0.16" in out
    script(stubber, description())
    stubber.add_response("stop_training_job", {}, {"TrainingJobName": JOB})
    code, out, _ = run_cli("cloud", "stop", JOB)
    assert code == 0 and f"Stopping {JOB}" in out
