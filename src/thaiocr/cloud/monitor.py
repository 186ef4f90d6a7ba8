"""Watching a training job: status lines, the final summary with its cost, stopping, detaching.

``watch`` polls ``describe_training_job`` and prints the guide's line
(``[HH:MM:SS] Status: InProgress | Secondary: Training | Time: 123s``). Ctrl-C asks before stopping
the job; any answer but yes detaches and says how to re-attach. ``sleep``, ``now`` and ``ask``
are parameters so that tests run instantly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from thaiocr.cloud.aws import AwsError, aws_errors
from thaiocr.cloud.costs import instances, money

TERMINAL = ("Completed", "Failed", "Stopped")
DEFAULT_POLL = 30  # seconds between two looks at the job


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class WatchResult:
    description: dict[str, Any] = field(default_factory=dict)
    detached: bool = False

    @property
    def exit_code(self) -> int:
        """0 when the job completed (or is left running), 1 when it failed or was stopped."""
        return 0 if self.detached or self.description.get("TrainingJobStatus") == "Completed" else 1


def describe_job(client: Any, name: str) -> dict[str, Any]:
    try:
        with aws_errors(f"looking up training job {name}"):
            return client.describe_training_job(TrainingJobName=name)
    except AwsError as exc:
        missing = any(words in str(exc).lower() for words in ("not found", "could not find"))
        if exc.code == "ValidationException" and missing:
            region = client.meta.region_name
            raise AwsError(f"no training job named {name!r} in {region} (is --region right?)", exc.code) from None
        raise


def stop_job(client: Any, name: str) -> str:
    """Ask SageMaker to stop the job; a job that has already ended is reported, not an error."""
    status = describe_job(client, name)["TrainingJobStatus"]
    if status in TERMINAL or status == "Stopping":
        return f"{name} is {status}: nothing to stop"
    with aws_errors(f"stopping training job {name}"):
        client.stop_training_job(TrainingJobName=name)
    return f"⏹️ Stopping {name}: SageMaker saves what the job wrote to /opt/ml/model, then stops it"


# --- what is printed ----------------------------------------------------------------------------


def elapsed_seconds(description: dict[str, Any], now: datetime) -> int:
    """Seconds since the job was created, up to its end when it has ended."""
    end = description.get("TrainingEndTime") if description["TrainingJobStatus"] in TERMINAL else None
    return max(0, int(((end or now) - description["CreationTime"]).total_seconds()))


def status_line(description: dict[str, Any], now: datetime) -> str:
    return (f"[{now.astimezone():%H:%M:%S}] Status: {description['TrainingJobStatus']} | "
            f"Secondary: {description['SecondaryStatus']} | Time: {elapsed_seconds(description, now)}s")


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds} s (~{seconds / 60:.0f} min)"
    return f"{seconds} s (~{seconds / 3600:.1f} h)"


def cost_lines(description: dict[str, Any], region: str) -> list[str]:
    """Billable time and what it cost at the table's price; spot savings when the job used spot."""
    billable = description.get("BillableTimeInSeconds")
    if billable is None:
        return []
    resources = description["ResourceConfig"]
    count = resources.get("InstanceCount", 1)
    lines = [f"💰 Billable time: {duration(billable)} x {count} instance{'s' if count > 1 else ''}"]
    machine = instances().get(resources["InstanceType"])
    if machine is None:
        lines.append(f"💵 Cost: unknown (no price for {resources['InstanceType']} in thaiocr/cloud/prices.csv)")
    else:
        price = machine.price(region)
        lines.append(f"💵 Estimated cost: {money(price.cost(billable, count))} "
                     f"({resources['InstanceType']} at {price.describe()})")
    trained = description.get("TrainingTimeInSeconds")
    if description.get("EnableManagedSpotTraining") and trained:
        saving = 1 - billable / trained
        lines.append(f"💸 Spot savings: {saving:.0%} (billed {billable} s of {trained} s trained)")
    return lines


def summary(description: dict[str, Any], region: str, now: datetime | None = None) -> str:
    """The guide's final report; for a running job, what is known so far."""
    name, status = description["TrainingJobName"], description["TrainingJobStatus"]
    lines = ["🏁 Training finished!" if status in TERMINAL else f"⏳ {name} is running",
             f"📊 Status: {status} | Secondary: {description['SecondaryStatus']}"]
    trained = description.get("TrainingTimeInSeconds")
    if trained is not None:
        lines.append(f"⏱️ Training time: {duration(trained)}")
    elif now is not None:
        lines.append(f"⏱️ Time since created: {duration(elapsed_seconds(description, now))}")
    lines += cost_lines(description, region)
    if status == "Failed":
        lines.append(f"❌ Failure reason: {description.get('FailureReason', 'not given')}")
        lines.append(f"📜 Logs: thaiocr cloud logs {name}")
    artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if artifacts and status in ("Completed", "Stopped"):
        lines.append(f"📦 Model artifacts: {artifacts}")
        lines.append(f"⬇️ Download: thaiocr cloud download {name} models/{name}")
    return "\n".join(lines)


def transition_note(description: dict[str, Any]) -> str | None:
    """What to say when the secondary status changes: SageMaker's message, and the spot story."""
    if description["SecondaryStatus"] == "Interrupted":
        where = description.get("CheckpointConfig", {}).get("S3Uri", "the checkpoint folder")
        return ("⚠️ Spot capacity was reclaimed: SageMaker restarts the job when capacity returns, and "
                f"training resumes from latest.pt in {where}")
    transitions = [t for t in description.get("SecondaryStatusTransitions") or []
                   if t.get("Status") == description["SecondaryStatus"]]
    message = transitions[-1].get("StatusMessage") if transitions else None
    return f"   {message}" if message else None


def detach_message(name: str) -> str:
    return (f"Detached: {name} keeps running (and billing).\n"
            f"  re-attach: thaiocr cloud status {name} --watch\n"
            f"  logs:      thaiocr cloud logs {name} --follow\n"
            f"  stop:      thaiocr cloud stop {name}")


# --- the loop -----------------------------------------------------------------------------------


def confirm_stop(name: str, ask: Callable[[str], str]) -> bool:
    """Yes only on an explicit yes; Ctrl-C or end of input at the prompt mean no."""
    try:
        answer = ask(f"\nStop training job {name}? Otherwise it keeps running. [y/N] ")
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() in ("y", "yes")


def watch(client: Any, name: str, region: str, *, poll: float = DEFAULT_POLL,
          sleep: Callable[[float], None] = time.sleep, now: Callable[[], datetime] = utc_now,
          ask: Callable[[str], str] = input, out: Callable[[str], None] = print) -> WatchResult:
    """Print the job's status until it ends (then its summary), or until Ctrl-C detaches."""
    description: dict[str, Any] = {}
    secondary = None
    stopping = False
    while True:
        try:
            description = describe_job(client, name)
            out(status_line(description, now()))
            if description["SecondaryStatus"] != secondary:
                secondary = description["SecondaryStatus"]
                note = transition_note(description)
                if note:
                    out(note)
            if description["TrainingJobStatus"] in TERMINAL:
                out(summary(description, region))
                return WatchResult(description)
            sleep(poll)
        except KeyboardInterrupt:
            if stopping or not confirm_stop(name, ask):
                out(detach_message(name))
                return WatchResult(description, detached=True)
            out(stop_job(client, name))
            stopping = True
