"""``thaiocr cloud deploy / undeploy / endpoints``: a SageMaker endpoint serving a trained model.

An endpoint is three resources, all named after it: a model (the image plus ``model.tar.gz``), an
endpoint configuration (real-time instances, or serverless memory and concurrency) and the endpoint.
Each is tagged ``thaiocr:tool=thaiocr``, which is how ``cloud endpoints`` tells this tool's
endpoints apart. A deploy that fails at any step, or ends ``Failed``, or is interrupted, deletes
what it had created, so the only way to leave a billable endpoint behind is for it to work.

The container is the image of ``cloud image`` (``Dockerfile.sagemaker``): SageMaker starts it as
``docker run IMAGE serve`` with the archive unpacked under ``/opt/ml/model``.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from thaiocr.cloud.artifacts import model_uri
from thaiocr.cloud.aws import Aws, AwsError, S3Uri, aws_errors
from thaiocr.cloud.bundle import FIXED_MTIME
from thaiocr.cloud.costs import instance, instances, money
from thaiocr.cloud.monitor import describe_job, duration, utc_now
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write
from thaiocr.runfolder import ONNX_NAME

TOOL_TAG = {"Key": "thaiocr:tool", "Value": "thaiocr"}
SOURCE_TAG = "thaiocr:source"
VARIANT = "AllTraffic"
ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
# Serverless limits (SageMaker's ProductionVariantServerlessConfig): memory 1024-6144 MB in 1 GB
# steps; at most 200 concurrent invocations per endpoint.
SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)
MAX_CONCURRENCY = 200
PENDING = ("Creating", "Updating", "SystemUpdating")
DEFAULT_POLL = 30
PRICE_PAGE = "https://aws.amazon.com/sagemaker/pricing/"
DEFAULT_INSTANCE = "ml.m5.large"


@dataclass(frozen=True)
class Hosting:
    """Real-time (``instance_type`` x ``instance_count``) or serverless (``memory_mb``, ``max_concurrency``)."""

    instance_type: str | None = DEFAULT_INSTANCE
    instance_count: int = 1
    memory_mb: int | None = None
    max_concurrency: int = 5

    @classmethod
    def from_options(cls, instance_type: str | None, instance_count: int | None, memory_mb: int | None,
                     max_concurrency: int | None) -> Hosting:
        """The command line's choice; an option of the other kind of endpoint is refused, not ignored."""
        if memory_mb is None:
            if max_concurrency is not None:
                raise ThaiOCRError("--max-concurrency applies to serverless endpoints: add --serverless MEMORY_MB")
            return cls(instance_type or DEFAULT_INSTANCE, 1 if instance_count is None else instance_count)
        if instance_count is not None:
            raise ThaiOCRError("--instance-count applies to real-time endpoints, not --serverless ones")
        return cls(None, memory_mb=memory_mb, max_concurrency=5 if max_concurrency is None else max_concurrency)

    @property
    def serverless(self) -> bool:
        return self.memory_mb is not None

    def check(self) -> None:
        """Refuse what SageMaker would refuse, before anything is created."""
        if self.serverless:
            if self.memory_mb not in SERVERLESS_MEMORY:
                raise ThaiOCRError(f"--serverless {self.memory_mb}: memory must be one of "
                                   f"{', '.join(map(str, SERVERLESS_MEMORY))} MB")
            if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
                raise ThaiOCRError(f"--max-concurrency {self.max_concurrency}: must be 1 to {MAX_CONCURRENCY}")
            return
        instance(self.instance_type or "")
        if self.instance_count < 1:
            raise ThaiOCRError("--instance-count must be at least 1")

    def variant(self, model_name: str) -> dict[str, Any]:
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model_name}
        if self.serverless:
            variant["ServerlessConfig"] = {"MemorySizeInMB": self.memory_mb, "MaxConcurrency": self.max_concurrency}
        else:
            variant.update(InstanceType=self.instance_type, InitialInstanceCount=self.instance_count,
                           InitialVariantWeight=1.0)
        return variant

    def describe(self) -> str:
        if self.serverless:
            return f"serverless, {self.memory_mb} MB, up to {self.max_concurrency} concurrent requests"
        return f"{self.instance_type} x {self.instance_count} (real-time)"


def hourly_cost(instance_type: str, count: int, region: str) -> float | None:
    """The table's hourly figure for ``count`` instances; None for a type the table lacks."""
    machine = instances().get(instance_type)
    return None if machine is None else machine.price(region).usd_per_hour * count


def cost_note(hosting: Hosting, region: str) -> str:
    """What the endpoint costs, printed before anything is created.

    prices.csv holds SageMaker *training* list prices; no hosting or serverless figure from AWS's
    own page could be checked here, so the figure is labelled as the training price of the type.
    """
    if hosting.serverless:
        return ("💵 Cost: serverless endpoints bill per second of inference time by memory size, plus the data "
                f"processed; nothing while idle. thaiocr has no serverless price: see {PRICE_PAGE}")
    machine = instance(hosting.instance_type or "")
    price = machine.price(region)
    per_hour = price.usd_per_hour * hosting.instance_count
    return (f"💵 Cost: billed per instance-hour from creation until `thaiocr cloud undeploy`, busy or idle: about "
            f"{money(per_hour)}/h ({hosting.instance_type} x {hosting.instance_count} at its SageMaker training "
            f"price, {price.describe()}; real-time hosting has its own list, see {PRICE_PAGE})")


# --- the model archive --------------------------------------------------------------------------


def model_folder(folder: Path) -> Path:
    """The folder holding the one ``inference.onnx`` under ``folder`` (a run folder or a best_model)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ThaiOCRError(f"model folder {folder} does not exist (or is not a folder)")
    found = sorted(folder.rglob(ONNX_NAME))
    if len(found) != 1:
        listing = ", ".join(str(p) for p in found) or "none"
        raise ThaiOCRError(f"{folder}: expected one {ONNX_NAME} (export the model with `thaiocr export`), "
                           f"found {len(found)} ({listing})")
    return found[0].parent


def _write_model_tar(stream: IO[bytes], folder: Path) -> None:
    """The folder's files at the archive's root, in a fixed order and with fixed times (so re-uploads skip)."""
    with gzip.GzipFile(fileobj=stream, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))


def upload_model_folder(aws: Aws, folder: Path, target: S3Uri, progress: bool) -> None:
    """Pack the model of ``folder`` and sync it to ``target`` (``.../model.tar.gz``): unchanged, it is skipped."""
    from thaiocr.cloud.s3sync import sync_upload

    source = model_folder(folder)
    parent, _, archive = target.key.rpartition("/")
    with tempfile.TemporaryDirectory(prefix="thaiocr-model-") as tmp:
        atomic_write(Path(tmp) / archive, lambda stream: _write_model_tar(stream, source))
        sync_upload(Path(tmp), S3Uri(target.bucket, parent), client=aws.client("s3"), progress=progress)


def job_model(aws: Aws, job: str) -> S3Uri:
    """A finished job's ``model.tar.gz``, checked to exist."""
    uri = model_uri(describe_job(aws.client("sagemaker"), job))
    try:
        with aws_errors(f"looking for {uri}"):
            aws.client("s3").head_object(Bucket=uri.bucket, Key=uri.key)
    except AwsError as exc:
        if exc.code in ("404", "NoSuchKey"):
            raise AwsError(f"{uri} does not exist: the job saved no model (see `thaiocr cloud status {job}`)",
                           exc.code) from None
        raise
    return uri


# --- deploying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployPlan:
    name: str
    image: str
    role: str
    model_data: S3Uri
    hosting: Hosting
    source: str  # the job's name, or the local folder
    local_folder: Path | None = None  # packed and uploaded to model_data before anything is created

    @property
    def tags(self) -> list[dict[str, str]]:
        return [TOOL_TAG, {"Key": SOURCE_TAG, "Value": self.source[:256]}]


def default_endpoint_name(source: str, now: datetime) -> str:
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", source).strip("-") or "model"
    stamp = now.strftime("%Y%m%d-%H%M%S")
    stem = stem.removeprefix("thaiocr-")[:63 - len("thaiocr--") - len(stamp)].strip("-")
    return f"thaiocr-{stem}-{stamp}"


def check_endpoint_name(name: str) -> str:
    if not ENDPOINT_NAME.fullmatch(name):
        raise ThaiOCRError(f"endpoint name {name!r}: 1-63 letters, digits and hyphens, starting and ending with "
                           "a letter or digit")
    return name


def plan_deploy(aws: Aws, *, hosting: Hosting, role: str, job: str | None = None, model_dir: Path | None = None,
                s3: str | None = None, image: str | None = None, name: str | None = None,
                now: datetime | None = None) -> DeployPlan:
    """Check every input (and that the job's model exists) before anything is uploaded or created."""
    from thaiocr.cloud.image import default_image
    from thaiocr.cloud.jobs import resolve_role

    hosting.check()
    source = job or str(model_dir)
    name = check_endpoint_name(name or default_endpoint_name(job or Path(str(model_dir)).name, now or datetime.now()))
    if model_dir is not None:
        model_folder(model_dir)
        if not s3:
            raise ThaiOCRError("a local model folder is uploaded first: pass --s3 s3://bucket/prefix to put it in")
        model_data = S3Uri.parse(s3).child(name, "model.tar.gz")
    elif job:
        model_data = job_model(aws, job)
    else:
        raise ThaiOCRError("deploy what? pass --job JOB (a finished training job) or --model DIR (a model folder)")
    return DeployPlan(name, image or default_image(aws), resolve_role(aws, role), model_data, hosting, source,
                      None if model_dir is None else Path(model_dir))


class Created:
    """What a deploy has created so far, removed in reverse order if it does not finish."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, delete: Callable[[], Any]) -> None:
        self.steps.append((what, delete))

    def remove(self) -> list[str]:
        """Delete everything, newest first; the names of what could not be deleted."""
        from botocore.exceptions import BotoCoreError, ClientError

        left = []
        for what, delete in reversed(self.steps):
            try:
                delete()
            except (BotoCoreError, ClientError):
                left.append(what)
        self.steps.clear()
        return left


def _create(client: Any, plan: DeployPlan, created: Created) -> None:
    name = plan.name
    with aws_errors(f"creating model {name}"):
        client.create_model(ModelName=name, ExecutionRoleArn=plan.role, Tags=plan.tags,
                            PrimaryContainer={"Image": plan.image, "ModelDataUrl": str(plan.model_data)})
    created.add(f"model {name}", lambda: client.delete_model(ModelName=name))
    with aws_errors(f"creating endpoint configuration {name}"):
        client.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[plan.hosting.variant(name)],
                                      Tags=plan.tags)
    created.add(f"endpoint configuration {name}", lambda: client.delete_endpoint_config(EndpointConfigName=name))
    with aws_errors(f"creating endpoint {name}"):
        client.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=plan.tags)
    created.add(f"endpoint {name}", lambda: client.delete_endpoint(EndpointName=name))


def wait_in_service(client: Any, name: str, *, poll: float = DEFAULT_POLL, sleep: Callable[[float], None] = time.sleep,
                    now: Callable[[], datetime] = utc_now, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the endpoint's status until it leaves Creating; a Failed endpoint raises with its reason."""
    while True:
        description = describe_endpoint(client, name)
        status, moment = description["EndpointStatus"], now()
        age = max(0, int((moment - description["CreationTime"]).total_seconds()))
        out(f"[{moment.astimezone():%H:%M:%S}] Endpoint {name}: {status} | Time: {age}s")
        if status == "InService":
            return description
        if status not in PENDING:
            raise AwsError(f"endpoint {name} is {status}: {description.get('FailureReason', 'no reason given')}")
        sleep(poll)


def deploy(aws: Aws, plan: DeployPlan, *, poll: float = DEFAULT_POLL, sleep: Callable[[float], None] = time.sleep,
           out: Callable[[str], None] = print, progress: bool = True) -> dict[str, Any]:
    """Upload a local model, create model, configuration and endpoint, and wait for it; on any failure
    remove what was created and re-raise."""
    if plan.local_folder is not None:
        upload_model_folder(aws, plan.local_folder, plan.model_data, progress)
    client = aws.client("sagemaker")
    created = Created()
    try:
        _create(client, plan, created)
        return wait_in_service(client, plan.name, poll=poll, sleep=sleep, out=out)
    except (ThaiOCRError, KeyboardInterrupt) as exc:
        left = created.remove()
        tail = (f"; could not remove {', '.join(left)}: run `thaiocr cloud undeploy {plan.name}`" if left
                else "; removed what it had created: nothing is left to bill")
        if isinstance(exc, KeyboardInterrupt):
            out(f"deploy interrupted{tail}")
            raise
        raise AwsError(f"{exc}{tail}", getattr(exc, "code", "")) from None


def banner(plan: DeployPlan, region: str) -> str:
    rule = "=" * 50
    return "\n".join([
        "🚀 thaiocr - SageMaker endpoint", rule,
        f"📍 Region: {region}",
        f"🏷️ Endpoint: {plan.name}",
        f"🐳 Image: {plan.image}",
        f"📦 Model: {plan.model_data} (from {plan.source})",
        f"🔧 Hosting: {plan.hosting.describe()}",
        cost_note(plan.hosting, region),
        rule,
    ])


def how_to_call(name: str) -> str:
    return (f"✅ Endpoint {name} is InService\n"
            f"  read:      thaiocr cloud invoke {name} line.png [more.png ...] [--page] [--json]\n"
            f"  remove it: thaiocr cloud undeploy {name}   (it bills until then)")


# --- looking up and removing ---------------------------------------------------------------------


def _missing(exc: AwsError) -> bool:
    return exc.code == "ValidationException" and "could not find" in str(exc).lower()


def describe_endpoint(client: Any, name: str) -> dict[str, Any]:
    try:
        with aws_errors(f"looking up endpoint {name}"):
            return client.describe_endpoint(EndpointName=name)
    except AwsError as exc:
        if _missing(exc):
            raise AwsError(f"no endpoint named {name!r} in {client.meta.region_name} (is --region right? "
                           "`thaiocr cloud endpoints` lists them)", exc.code) from None
        raise


def _lookup(call: Callable[[], dict[str, Any]], what: str) -> dict[str, Any] | None:
    """The description ``call`` returns; None when SageMaker has no such resource."""
    try:
        with aws_errors(f"looking up {what}"):
            return call()
    except AwsError as exc:
        if _missing(exc):
            return None
        raise


def _delete(call: Callable[[], Any], what: str) -> str:
    with aws_errors(f"deleting {what}"):
        call()
    return what


def undeploy(aws: Aws, name: str) -> list[str]:
    """Delete the endpoint, its configuration and its model(s); what was deleted, in that order.

    When the endpoint is gone but a configuration or model of its name is left (an interrupted
    undeploy, say), those are deleted; with none of the three, the endpoint's absence is the error.
    """
    client = aws.client("sagemaker")
    endpoint = _lookup(lambda: client.describe_endpoint(EndpointName=name), f"endpoint {name}")
    config_name = endpoint["EndpointConfigName"] if endpoint else name
    config = _lookup(lambda: client.describe_endpoint_config(EndpointConfigName=config_name),
                     f"endpoint configuration {config_name}")
    candidates = sorted({v["ModelName"] for v in config["ProductionVariants"]}) if config else [name]
    models = [m for m in candidates if _lookup(lambda m=m: client.describe_model(ModelName=m), f"model {m}")]
    if endpoint is None and config is None and not models:
        describe_endpoint(client, name)  # raises the plain "no endpoint named ..." message
    deleted = []
    if endpoint is not None:
        deleted.append(_delete(lambda: client.delete_endpoint(EndpointName=name), f"endpoint {name}"))
    if config is not None:
        deleted.append(_delete(lambda: client.delete_endpoint_config(EndpointConfigName=config_name),
                               f"endpoint configuration {config_name}"))
    for model in models:
        deleted.append(_delete(lambda m=model: client.delete_model(ModelName=m), f"model {model}"))
    return deleted


def billable_left(client: Any, name: str) -> bool:
    """Whether an endpoint of this name still exists (deleting one takes a moment to show)."""
    return _lookup(lambda: client.describe_endpoint(EndpointName=name), f"endpoint {name}") is not None


# --- listing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointRow:
    name: str
    status: str
    hosting: str
    age_seconds: int
    cost: float | None  # None: a type the table lacks, or serverless
    serverless: bool = False

    def line(self) -> str:
        cost = "per request" if self.serverless else "unknown" if self.cost is None else f"~{money(self.cost)}"
        return f"{self.name:<40} {self.status:<12} {self.hosting:<28} {duration(self.age_seconds):<22} {cost}"


def _tool_endpoints(client: Any) -> Iterator[dict[str, Any]]:
    with aws_errors("listing endpoints"):
        for page in client.get_paginator("list_endpoints").paginate():
            for item in page["Endpoints"]:
                tags = client.list_tags(ResourceArn=item["EndpointArn"]).get("Tags", [])
                if TOOL_TAG in tags:
                    yield item


def _row(client: Any, summary: dict[str, Any], region: str, now: datetime) -> EndpointRow:
    name = summary["EndpointName"]
    with aws_errors(f"describing endpoint {name}"):
        config_name = client.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        variant = client.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"][0]
    age = max(0, int((now - summary["CreationTime"]).total_seconds()))
    serverless = variant.get("ServerlessConfig")
    if serverless:
        return EndpointRow(name, summary["EndpointStatus"], f"serverless {serverless['MemorySizeInMB']} MB", age, None,
                           serverless=True)
    count = variant.get("InitialInstanceCount", 1)
    hourly = hourly_cost(variant["InstanceType"], count, region)
    cost = None if hourly is None else hourly * age / 3600
    return EndpointRow(name, summary["EndpointStatus"], f"{variant['InstanceType']} x {count}", age, cost)


def list_endpoints(aws: Aws, now: datetime | None = None) -> list[EndpointRow]:
    """This tool's endpoints (tagged ``thaiocr:tool``), newest first."""
    client = aws.client("sagemaker")
    now = now or utc_now()
    rows = [_row(client, item, aws.region, now) for item in _tool_endpoints(client)]
    return sorted(rows, key=lambda row: row.age_seconds)


def endpoints_table(rows: list[EndpointRow]) -> str:
    if not rows:
        return "No thaiocr endpoints in this region: nothing is billing."
    header = f"{'endpoint':<40} {'status':<12} {'hosting':<28} {'age':<22} cost so far"
    note = ("~ at the SageMaker training list price of the type (prices.csv); real-time hosting has its own "
            f"list: {PRICE_PAGE}")
    return "\n".join([header, *(row.line() for row in rows), note])
