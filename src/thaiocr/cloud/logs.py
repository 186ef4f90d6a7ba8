"""``thaiocr cloud logs``: a job's CloudWatch log lines, once or following them until the job ends.

SageMaker writes one stream per instance and start (``<job>/algo-1-<time>``; a spot restart adds a
new one) to the group ``/aws/sagemaker/TrainingJobs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from thaiocr.cloud.aws import Aws, AwsError, aws_errors
from thaiocr.cloud.monitor import TERMINAL, describe_job

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
DEFAULT_POLL = 10  # seconds between two reads while following


def log_streams(logs: Any, job: str) -> list[str]:
    """The job's stream names, oldest first; none before the job has written anything."""
    names: list[str] = []
    try:
        with aws_errors(f"listing the log streams of {job}"):
            pages = logs.get_paginator("describe_log_streams").paginate(logGroupName=LOG_GROUP,
                                                                        logStreamNamePrefix=f"{job}/")
            for page in pages:
                names += [stream["logStreamName"] for stream in page.get("logStreams", [])]
    except AwsError as exc:
        if exc.code != "ResourceNotFoundException":  # no job of this account has logged yet
            raise
    return sorted(names)


def new_events(logs: Any, stream: str, token: str | None) -> tuple[list[dict], str | None]:
    """The events after ``token`` and the token to read on from; the same token means no more yet."""
    events: list[dict] = []
    while True:
        request = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
        if token:
            request["nextToken"] = token
        with aws_errors(f"reading log stream {stream}"):
            response = logs.get_log_events(**request)
        events += response.get("events", [])
        next_token = response.get("nextForwardToken")
        if not response.get("events") or next_token == token:
            return events, next_token or token
        token = next_token


def print_logs(aws: Aws, job: str, follow: bool = False, *, poll: float = DEFAULT_POLL,
               sleep: Callable[[float], None] = time.sleep, out: Callable[[str], None] = print) -> int:
    """Print the job's log lines (named by stream once there are several); returns how many.

    Following reads on until the job has ended, then reads once more for the last lines.
    """
    logs, sagemaker = aws.client("logs"), aws.client("sagemaker")
    ended = describe_job(sagemaker, job)["TrainingJobStatus"] in TERMINAL
    tokens: dict[str, str | None] = {}
    printed = 0
    while True:
        streams = log_streams(logs, job)
        for stream in streams:
            events, tokens[stream] = new_events(logs, stream, tokens.get(stream))
            label = f"[{stream.split('/', 1)[-1]}] " if len(streams) > 1 else ""
            for event in events:
                out(label + event["message"].rstrip("\n"))
            printed += len(events)
        if ended or not follow:
            if not printed and not follow:
                out(f"no log lines for {job} yet: a job logs once its instance has started")
            return printed
        ended = describe_job(sagemaker, job)["TrainingJobStatus"] in TERMINAL
        if not ended:
            sleep(poll)
