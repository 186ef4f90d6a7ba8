"""The guide's last step against a real ``moto_server``: deploy (from a local model folder and from a
finished job, real-time and serverless) -> describe -> invoke -> endpoints -> undeploy; a deploy that
fails midway (an AWS error, a Failed endpoint, Ctrl-C) leaves nothing behind; bad inputs end in one
line; ``cloud image`` plans and runs the docker and ECR steps.

moto's endpoints are InService at once, and its ``sagemaker-runtime`` answers what its
``/moto-api/static/sagemaker/endpoint-results`` queue is given, so the tests queue thaiocr's JSON
(and send text for image bytes: moto decodes the body as UTF-8). The endpoint's container itself is
tested in test_server_entry.py.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from thaiocr.cloud.aws import Aws, AwsError
from thaiocr.cloud.deploy import Hosting, deploy, list_endpoints, plan_deploy, undeploy
from thaiocr.cloud.image import ImagePlan, build_and_push, plan_image

ACCOUNT = "123456789012"  # moto's
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/thaiocr:latest"


@pytest.fixture
def bucket(aws: Aws) -> str:
    name = f"thaiocr-deploy-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def unique(prefix: str) -> str:
    """A name of its own for each test: moto's state lasts the session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def model_dir(root: Path) -> Path:
    """A run folder as `thaiocr train` leaves it; only best_model/ is served (the file's bytes do not matter)."""
    (root / "best_model").mkdir(parents=True)
    (root / "best_model" / "inference.onnx").write_bytes(b"onnx bytes")
    (root / "best_model" / "dict.txt").write_text("๑\n๒\n", encoding="utf-8")
    (root / "best_accuracy.pt").write_bytes(b"checkpoint, not shipped")
    return root


def queue_answer(moto_endpoint: str, answer: dict) -> None:
    results = {"results": [{"Body": json.dumps(answer, ensure_ascii=False), "ContentType": "application/json",
                            "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}]}
    httpx.post(f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results", json=results).raise_for_status()


def push_default_image(aws: Aws) -> None:
    """What `thaiocr cloud image` leaves in ECR: the thaiocr repository holding a `latest` image."""
    ecr = aws.client("ecr")
    if "thaiocr" not in [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]:
        ecr.create_repository(repositoryName="thaiocr")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                           "digest": "sha256:" + "0" * 64}, "layers": []}
    ecr.put_image(repositoryName="thaiocr", imageManifest=json.dumps(manifest), imageTag="latest")


def leftovers(aws: Aws, name: str) -> list[str]:
    sagemaker = aws.client("sagemaker")
    found = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    found += [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    found += [m["ModelName"] for m in sagemaker.list_models()["Models"]]
    return [item for item in found if item == name]


def test_deploy_a_local_model_folder_invoke_it_list_it_and_undeploy_it(aws, bucket, tmp_path, run_cli,
                                                                        moto_endpoint) -> None:
    name = unique("thaiocr-numbers")
    folder = model_dir(tmp_path / "models" / "numbers")
    push_default_image(aws)
    code, out, _ = run_cli("-q", "cloud", "deploy", "--model", folder, "--s3", f"s3://{bucket}/endpoints",
                           "--role", ROLE, "--name", name, "--poll", "0")
    assert code == 0
    assert "ml.m5.large x 1 (real-time)" in out and "about $0.12/h" in out  # the cost, before creating
    assert out.index("Cost:") < out.index(f"Endpoint {name}: InService")
    assert f"thaiocr cloud invoke {name}" in out and f"thaiocr cloud undeploy {name}" in out

    key = f"endpoints/{name}/model.tar.gz"
    archive = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == ["dict.txt", "inference.onnx"]  # best_model's files, at the root
    sagemaker = aws.client("sagemaker")
    model = sagemaker.describe_model(ModelName=name)
    assert model["PrimaryContainer"] == {"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/{key}"}  # cloud image's URI
    assert model["ExecutionRoleArn"] == ROLE
    variant = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"], variant["ModelName"]) == ("ml.m5.large", 1, name)
    assert sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"

    code, out, _ = run_cli("cloud", "endpoints")
    row = next(line for line in out.splitlines() if line.startswith(name))
    assert "InService" in row and "ml.m5.large x 1" in row and "~$0.00" in row

    image = tmp_path / "line.png"
    image.write_bytes(b"PNG bytes")  # text: moto's sagemaker-runtime decodes the body as UTF-8
    queue_answer(moto_endpoint, {"lines": [{"text": "๑๒๓", "confidence": 0.97}]})
    code, out, _ = run_cli("cloud", "invoke", name, image)
    assert code == 0 and out.strip() == f"{image}\t๑๒๓", _
    code, out, _ = run_cli("cloud", "invoke", name, image, "--json")
    assert json.loads(out) == [{"image": str(image), "lines": [{"text": "๑๒๓", "confidence": 0.97}]}]

    code, out, _ = run_cli("cloud", "undeploy", name)
    assert code == 0
    assert [line for line in out.splitlines() if "deleted" in line] == [
        f"🗑️ deleted endpoint {name}", f"🗑️ deleted endpoint configuration {name}", f"🗑️ deleted model {name}"]
    assert f"nothing of {name} is left to bill" in out
    assert leftovers(aws, name) == []
    assert name not in run_cli("cloud", "endpoints")[1]


def finished_job(aws: Aws, bucket: str, run: Path) -> str:
    """A job moto reports Completed, with a model.tar.gz of a run folder where its description says."""
    job = unique("thaiocr-numbers-job")
    aws.client("sagemaker").create_training_job(
        TrainingJobName=job, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/thaiocr"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        tar.add(run, arcname=".")
    aws.client("s3").put_object(Bucket=bucket, Key=f"thaiocr/{job}/output/model.tar.gz", Body=stream.getvalue())
    return job


def test_deploy_a_finished_job_serverless_read_a_page_and_undeploy(aws, bucket, tmp_path, run_cli,
                                                                   moto_endpoint) -> None:
    job = finished_job(aws, bucket, model_dir(tmp_path / "run"))
    code, out, _ = run_cli("cloud", "deploy", "--job", job, "--role", ROLE, "--serverless", "2048",
                           "--max-concurrency", "3", "--image", "my/image:1", "--poll", "0")
    assert code == 0 and "serverless, 2048 MB, up to 3 concurrent requests" in out and "per second" in out
    name = next(line.split()[-1] for line in out.splitlines() if line.startswith("🏷️ Endpoint:"))
    assert name.startswith("thaiocr-numbers-job-")
    sagemaker = aws.client("sagemaker")
    model = sagemaker.describe_model(ModelName=name)["PrimaryContainer"]
    assert model == {"Image": "my/image:1", "ModelDataUrl": f"s3://{bucket}/thaiocr/{job}/output/model.tar.gz"}
    variant = sagemaker.describe_endpoint_config(EndpointConfigName=name)["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 3}
    row = next(line for line in run_cli("cloud", "endpoints")[1].splitlines() if line.startswith(name))
    assert "serverless 2048 MB" in row and row.endswith("per request")

    page = tmp_path / "page.jpg"
    page.write_bytes(b"JPEG bytes")
    queue_answer(moto_endpoint, {"pages": [{"text": "๑\n๒", "lines": [{"text": "๑"}, {"text": "๒"}]}]})
    code, out, _ = run_cli("cloud", "invoke", name, page, "--page")
    assert code == 0 and out.splitlines() == [f"{page}\t๑", f"{page}\t๒"]

    assert run_cli("cloud", "undeploy", name)[0] == 0
    assert leftovers(aws, name) == []


class Failing:
    """The SageMaker client, except for one call: it fails, or the endpoint reports Failed, or Ctrl-C."""

    def __init__(self, client, how: str) -> None:
        self.client, self.how = client, how

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create_endpoint(self, **kwargs):
        if self.how == "create":
            raise ClientError({"Error": {"Code": "ResourceLimitExceeded", "Message": "account limit for ml.m5.large"}},
                              "CreateEndpoint")
        return self.client.create_endpoint(**kwargs)

    def describe_endpoint(self, **kwargs):
        description = self.client.describe_endpoint(**kwargs)
        if self.how == "failed":
            return {**description, "EndpointStatus": "Failed", "FailureReason": "the container did not answer /ping"}
        if self.how == "interrupt":
            return {**description, "EndpointStatus": "Creating"}
        return description


class SlowToStart:
    """The SageMaker client, except that the endpoint reports Creating the first ``polls`` times."""

    def __init__(self, client, polls: int) -> None:
        self.client, self.polls = client, polls

    def __getattr__(self, name):
        return getattr(self.client, name)

    def describe_endpoint(self, **kwargs):
        description = self.client.describe_endpoint(**kwargs)
        self.polls -= 1
        return {**description, "EndpointStatus": "Creating"} if self.polls >= 0 else description


def test_deploy_prints_the_endpoint_status_on_every_poll_until_it_is_in_service(aws, bucket, tmp_path) -> None:
    name = unique("thaiocr-slow")
    plan = plan_deploy(aws, hosting=Hosting(), role=ROLE, model_dir=model_dir(tmp_path / "m"), s3=f"s3://{bucket}/e",
                       image=IMAGE, name=name)
    aws.clients["sagemaker"] = SlowToStart(aws.client("sagemaker"), polls=2)
    lines: list[str] = []
    sleeps: list[float] = []
    description = deploy(aws, plan, poll=7, sleep=sleeps.append, out=lines.append, progress=False)
    assert description["EndpointStatus"] == "InService" and sleeps == [7, 7]
    assert [line.split(": ")[1].split(" |")[0] for line in lines] == ["Creating", "Creating", "InService"]
    assert all(f"Endpoint {name}: " in line and "| Time: " in line for line in lines)
    undeploy(aws, name)


def interrupt(_: float) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("how, message", [("create", "ResourceLimitExceeded"),
                                          ("failed", "did not answer /ping"),
                                          ("interrupt", None)])
def test_a_deploy_that_fails_midway_leaves_no_model_configuration_or_endpoint(aws, bucket, tmp_path, how,
                                                                              message) -> None:
    name = unique("thaiocr-fails")
    plan = plan_deploy(aws, hosting=Hosting(), role=ROLE, model_dir=model_dir(tmp_path / "m"), s3=f"s3://{bucket}/e",
                       image=IMAGE, name=name)
    aws.clients["sagemaker"] = Failing(aws.client("sagemaker"), how)
    lines: list[str] = []
    if message is None:
        with pytest.raises(KeyboardInterrupt):
            deploy(aws, plan, poll=0, sleep=interrupt, out=lines.append, progress=False)
        assert "nothing is left to bill" in lines[-1]
    else:
        with pytest.raises(AwsError, match=message) as failure:
            deploy(aws, plan, poll=0, out=lines.append, progress=False)
        assert "removed what it had created: nothing is left to bill" in str(failure.value)
    assert leftovers(aws, name) == []


def test_bad_inputs_end_in_one_line(aws, bucket, tmp_path, run_cli) -> None:
    folder = model_dir(tmp_path / "m")
    base = ["cloud", "deploy", "--role", ROLE, "--s3", f"s3://{bucket}/e"]
    cases = [
        ([*base, "--model", tmp_path / "missing"], "model folder"),
        ([*base, "--model", tmp_path], "expected one inference.onnx"),  # the file is two folders down, and one
        ([*base, "--model", folder, "--instance-type", "ml.m5.larg"], "unknown instance type 'ml.m5.larg'"),
        ([*base, "--model", folder, "--serverless", "512"], "memory must be one of 1024, 2048"),
        ([*base, "--model", folder, "--serverless", "1024", "--max-concurrency", "500"], "must be 1 to 200"),
        ([*base, "--model", folder, "--serverless", "1024", "--instance-count", "2"], "applies to real-time"),
        ([*base, "--model", folder, "--max-concurrency", "2"], "applies to serverless"),
        ([*base, "--model", folder, "--instance-count", "0"], "at least 1"),
        (["cloud", "deploy", "--role", ROLE, "--model", folder], "pass --s3"),
        ([*base, "--job", "no-such-job"], "no training job named 'no-such-job'"),
        (["cloud", "undeploy", "no-such-endpoint"], "no endpoint named 'no-such-endpoint'"),
        ([*base, "--model", folder, "--region", "eu-west-1"],  # no `cloud image` there yet
         f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/thaiocr:latest is not in ECR: build and push it"),
        (["cloud", "invoke", "no-such-endpoint", folder / "best_model" / "dict.txt"], "no endpoint named"),
        (["cloud", "invoke", "no-such-endpoint", tmp_path / "missing.png"], "cannot read the image"),
    ]
    (tmp_path / "other" / "best_model").mkdir(parents=True)
    (tmp_path / "other" / "best_model" / "inference.onnx").write_bytes(b"x")
    for argv, expected in cases:
        code, out, err = run_cli(*argv)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_image_dry_run_prints_the_docker_and_ecr_steps_with_the_repository_uri(aws, run_cli) -> None:
    repository = unique("thaiocr-dry")
    code, out, _ = run_cli("cloud", "image", "--dry-run", "--repository", repository, "--tag", "v1",
                           "--build-arg", "TORCH_INDEX=https://download.pytorch.org/whl/cu124")
    registry = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
    lines = out.splitlines()
    assert code == 0 and len(lines) == 6
    assert lines[0].startswith("1. build:  docker build -f ") and "Dockerfile.sagemaker --build-arg " in lines[0]
    assert "TORCH_INDEX=https://download.pytorch.org/whl/cu124 -t thaiocr-sagemaker:v1 " in lines[0]
    assert f"create repository {repository!r} if missing" in lines[1]
    assert f"docker login --username AWS --password-stdin {registry}" in lines[2]
    assert lines[3] == f"4. tag:    docker tag thaiocr-sagemaker:v1 {registry}/{repository}:v1"
    assert lines[4] == f"5. push:   docker push {registry}/{repository}:v1"
    assert lines[5] == f"Image URI: {registry}/{repository}:v1"
    names = [r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]]
    assert repository not in names  # nothing created


def test_image_creates_the_repository_once_and_logs_in_with_the_ecr_token(aws) -> None:
    repository = unique("thaiocr")
    plan = plan_image(aws, repository)
    assert isinstance(plan, ImagePlan) and plan.uri == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{repository}:latest"
    for expected in ("created", "exists"):
        calls: list[tuple[list[str], str | None]] = []
        said: list[str] = []

        def run(argv: list[str], stdin: str | None = None, calls=calls) -> None:
            calls.append((argv, stdin))

        uri = build_and_push(aws, plan, run=run, out=said.append)
        assert uri == plan.uri and f"ECR repository {repository}: {expected}" in said[-1]
        assert [argv[:2] for argv, _ in calls] == [["docker", "build"], ["docker", "login"], ["docker", "tag"],
                                                   ["docker", "push"]]
        assert calls[1][1] and calls[1][1] not in " ".join(calls[1][0])  # the password on stdin only
    names = [r["repositoryName"] for r in aws.client("ecr").describe_repositories()["repositories"]]
    assert names.count(repository) == 1


def test_the_endpoint_age_and_cost_so_far(aws, bucket, tmp_path) -> None:
    name = unique("thaiocr-age")
    plan = plan_deploy(aws, hosting=Hosting("ml.m5.xlarge", 2), role=ROLE, model_dir=model_dir(tmp_path / "m"),
                       s3=f"s3://{bucket}/e", image=IMAGE, name=name)
    deploy(aws, plan, poll=0, out=lambda _: None, progress=False)
    created = aws.client("sagemaker").describe_endpoint(EndpointName=name)["CreationTime"]
    row = next(r for r in list_endpoints(aws, now=created + timedelta(hours=3)) if r.name == name)
    assert row.age_seconds == 3 * 3600 and row.hosting == "ml.m5.xlarge x 2"
    assert row.cost == pytest.approx(0.23 * 2 * 3)  # prices.csv's ml.m5.xlarge, two instances, three hours
    assert undeploy(aws, name)[0] == f"endpoint {name}"


def test_undeploy_removes_a_configuration_and_model_left_without_their_endpoint(aws, run_cli) -> None:
    name = unique("thaiocr-left")
    sagemaker = aws.client("sagemaker")
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[Hosting().variant(name)])
    code, out, _ = run_cli("cloud", "undeploy", name)
    assert code == 0 and "deleted endpoint configuration" in out and f"deleted model {name}" in out
    assert "deleted endpoint " + name not in out and leftovers(aws, name) == []
