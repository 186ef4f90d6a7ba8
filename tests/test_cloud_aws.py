"""The commands that talk to AWS, against a real ``moto_server`` (S3, STS, IAM, CloudWatch Logs).

Upload sync (skip, change, multipart, exclude, interruption), the setup check, submitting a job,
downloading and unpacking its model, reading its logs; and the clean errors for missing
credentials, a missing bucket or an unsafe archive. SageMaker itself is a Stubber (moto's training
jobs do not behave like real ones; see docs/MACHINE.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from thaiocr.cloud.artifacts import download_model
from thaiocr.cloud.aws import Aws, AwsError, S3Uri
from thaiocr.cloud.jobs import JobOptions, plan_job, submit_job
from thaiocr.cloud.logs import LOG_GROUP, print_logs
from thaiocr.cloud.s3sync import MIB, sync_upload
from thaiocr.errors import ThaiOCRError

REGION = "us-east-1"
PART = 5 * MIB  # S3's smallest part: a 6 MiB file goes up in two parts
JOB = "thaiocr-tiny-20250807-100059"
TRUST_SAGEMAKER = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def bucket(aws) -> str:
    name = f"thaiocr-test-{uuid.uuid4().hex[:12]}"
    aws.client("s3").create_bucket(Bucket=name)
    return name


def dataset(folder: Path) -> Path:
    """The guide's layout, with one file big enough to go up in parts and a log to exclude."""
    (folder / "thai_data" / "train").mkdir(parents=True)
    (folder / "rec_gt_train.txt").write_text("thai_data/train/1.png\t๑๒\n", encoding="utf-8")
    (folder / "rec_gt_val.txt").write_text("thai_data/train/2.png\t๓\n", encoding="utf-8")
    for i in (1, 2):
        (folder / "thai_data" / "train" / f"{i}.png").write_bytes(bytes([i]) * 1000)
    (folder / "thai_data" / "big.bin").write_bytes(os.urandom(6 * MIB))
    (folder / "run.log").write_text("noise\n")
    return folder


def objects(aws: Aws, bucket: str, prefix: str = "") -> dict[str, str]:
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: o["ETag"].strip('"') for page in pages for o in page.get("Contents", [])}


def upload(folder: Path, uri: str, **kwargs):
    return sync_upload(folder, uri, ["*.log"], region=REGION, part_size=PART, progress=False, **kwargs)


# --- upload -------------------------------------------------------------------------------------


def test_upload_syncs_skips_unchanged_and_reuploads_changed_files(aws, bucket, tmp_path) -> None:
    folder = dataset(tmp_path / "numbers")
    uri = f"s3://{bucket}/data/numbers"
    first = upload(folder, uri)
    assert (first.uploaded, first.unchanged) == (5, 0)
    stored = objects(aws, bucket)
    assert set(stored) == {f"data/numbers/{n}" for n in ("rec_gt_train.txt", "rec_gt_val.txt", "thai_data/big.bin",
                                                          "thai_data/train/1.png", "thai_data/train/2.png")}
    assert stored["data/numbers/thai_data/big.bin"].endswith("-2")  # multipart
    body = aws.client("s3").get_object(Bucket=bucket, Key="data/numbers/thai_data/big.bin")["Body"].read()
    assert body == (folder / "thai_data" / "big.bin").read_bytes()

    again = upload(folder, uri)
    assert (again.uploaded, again.unchanged) == (0, 5)

    (folder / "thai_data" / "train" / "1.png").write_bytes(bytes([9]) * 1000)  # same size, new bytes
    big = bytearray((folder / "thai_data" / "big.bin").read_bytes())
    big[-1] ^= 0xFF  # the last part changes: the multipart ETag must notice
    (folder / "thai_data" / "big.bin").write_bytes(bytes(big))
    changed = upload(folder, uri)
    assert (changed.uploaded, changed.unchanged) == (2, 3)
    assert "Uploaded 2 files" in changed.summary()


class Flaky:
    """The S3 client, except that uploads fail after ``allowed`` of them (a dropped connection)."""

    def __init__(self, client, allowed: int) -> None:
        self.client, self.allowed = client, allowed

    def __getattr__(self, name):
        return getattr(self.client, name)

    def upload_file(self, **kwargs) -> None:
        if self.allowed <= 0:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
        self.allowed -= 1
        self.client.upload_file(**kwargs)


def test_an_interrupted_upload_resumes_where_it_stopped(aws, bucket, tmp_path) -> None:
    folder = dataset(tmp_path / "numbers")
    uri = f"s3://{bucket}/rec"
    with pytest.raises(AwsError, match="run the same command again") as failure:
        upload(folder, uri, client=Flaky(aws.client("s3"), allowed=2), workers=1)
    assert "upload stopped: 2 of 5 files went up" in str(failure.value)
    assert len(objects(aws, bucket)) == 2
    rerun = upload(folder, uri)
    assert (rerun.uploaded, rerun.unchanged) == (3, 2)
    assert len(objects(aws, bucket)) == 5


def test_upload_errors_are_clean(aws, bucket, tmp_path, run_cli, monkeypatch) -> None:
    folder = dataset(tmp_path / "numbers")
    code, _, err = run_cli("cloud", "upload", folder, "s3://no-such-bucket-here/x")
    assert code == 2 and "bucket 'no-such-bucket-here' does not exist" in err
    code, _, err = run_cli("cloud", "upload", folder, "no-such-bucket-here/x")
    assert code == 2 and "not an S3 URI" in err
    code, _, err = run_cli("cloud", "upload", tmp_path / "missing", f"s3://{bucket}/x")
    assert code == 2 and "not a folder" in err
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run_cli("cloud", "upload", folder, f"s3://{bucket}/x")
    assert code == 2 and "no usable AWS credentials" in err and "AWS_ACCESS_KEY_ID" in err


def test_upload_on_the_command_line_excludes_globs(aws, bucket, tmp_path, run_cli) -> None:
    folder = dataset(tmp_path / "numbers")
    code, out, _ = run_cli("-q", "cloud", "upload", folder, f"s3://{bucket}/rec/", "--exclude", "*.log",
                           "--exclude", "thai_data/big.bin")
    assert code == 0 and "Uploaded 4 files" in out
    assert not any(key.endswith(("run.log", "big.bin")) for key in objects(aws, bucket))


# --- the setup check ----------------------------------------------------------------------------


def recipe_args(tiny_config: Path, folder: Path) -> list[str]:
    pairs = [f"Train.dataset.data_dir={folder / 'thai_data'}",
             f"Train.dataset.label_file_list=[{folder / 'rec_gt_train.txt'}]",
             f"Eval.dataset.data_dir={folder / 'thai_data'}",
             f"Eval.dataset.label_file_list=[{folder / 'rec_gt_val.txt'}]"]
    return ["-c", str(tiny_config), *[arg for pair in pairs for arg in ("-o", pair)]]


def make_role(aws: Aws, name: str, trust: dict = TRUST_SAGEMAKER) -> str:
    return aws.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def test_check_passes_when_everything_is_in_place(aws, bucket, tmp_path, tiny_config, run_cli) -> None:
    folder = dataset(tmp_path / "numbers")
    upload(folder, f"s3://{bucket}/rec")
    role = make_role(aws, f"sm-{uuid.uuid4().hex[:8]}")
    code, out, _ = run_cli("cloud", "check", *recipe_args(tiny_config, folder), "--bucket", f"s3://{bucket}/rec",
                           "--role", role)
    assert code == 0, out
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "✅ AWS credentials", "✅ S3 bucket", "✅ S3 training data", "✅ SageMaker IAM role", "✅ Local configuration"]
    assert "rec_gt_train.txt, rec_gt_val.txt and 5 objects" in out and "trusted by sagemaker.amazonaws.com" in out


def test_check_names_each_problem_and_its_fix(aws, bucket, tmp_path, tiny_config, run_cli) -> None:
    folder = dataset(tmp_path / "numbers")
    untrusting = make_role(aws, f"ec2-{uuid.uuid4().hex[:8]}", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    code, out, _ = run_cli("cloud", "check", *recipe_args(tiny_config, folder), "-o", "Global.epoch_num=0",
                           "--s3", f"s3://{bucket}/empty", "--role", untrusting)
    assert code == 1
    assert "❌ S3 training data: s3://" in out and "lacks rec_gt_train.txt" in out
    assert "fix: upload the dataset folder: thaiocr cloud upload DATASET_DIR" in out
    assert "does not trust sagemaker.amazonaws.com" in out and "sts:AssumeRole" in out
    assert "❌ Local configuration" in out and "epoch_num must be positive" in out
    code, out, _ = run_cli("cloud", "check", *recipe_args(tiny_config, folder), "--s3", "s3://no-such-bucket-here/x",
                           "--role", "missing-role")
    assert code == 1 and "does not exist" in out and "aws s3 mb s3://no-such-bucket-here" in out
    assert "❌ S3 training data: not checked" in out and "❌ SageMaker IAM role" in out


def test_check_without_credentials_says_how_to_set_them(aws, tmp_path, tiny_config, run_cli, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, _ = run_cli("cloud", "check", *recipe_args(tiny_config, dataset(tmp_path / "d")),
                           "--s3", "s3://some-bucket/x", "--role", "r")
    assert code == 1
    assert out.startswith("❌ AWS credentials") and "no usable AWS credentials; set AWS_ACCESS_KEY_ID" in out
    assert out.count("not checked: needs working credentials") == 3 and "✅ Local configuration" in out


def test_check_refuses_a_misspelled_effect_as_train_does(aws, tmp_path, bucket, run_cli) -> None:
    general = Path(__file__).resolve().parents[1] / "configs" / "rec" / "thai_general.yml"
    recipe = tmp_path / "recipe.yml"
    recipe.write_text(general.read_text(encoding="utf-8").replace("speckle:", "speckel:", 1), encoding="utf-8")
    code, out, _ = run_cli("cloud", "check", "-c", recipe, "--s3", f"s3://{bucket}/rec", "--role", "r")
    assert code == 1 and "❌ Local configuration" in out
    assert "Train.dataset.synth.looks.documents.effects: unknown effect 'speckel'; did you mean 'speckle'?" in out


# --- submitting ---------------------------------------------------------------------------------


def test_submit_uploads_the_source_and_creates_the_job(aws, bucket, tmp_path, tiny_config) -> None:
    folder = dataset(tmp_path / "numbers")
    upload(folder, f"s3://{bucket}/rec")
    role = make_role(aws, f"sm-{uuid.uuid4().hex[:8]}")
    job = plan_job(tiny_config, recipe_args(tiny_config, folder)[3::2], f"s3://{bucket}/rec", role.split("/")[-1],
                   JobOptions("ml.m5.xlarge", 3600, job_name=JOB), REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    aws.clients["sagemaker"] = sagemaker
    with Stubber(sagemaker) as stubber:
        expected = {**job.request, "RoleArn": role}  # the role's name became its ARN (IAM)
        stubber.add_response("create_training_job", {"TrainingJobArn": f"arn:aws:sagemaker:{REGION}:1:job/{JOB}"},
                             expected)
        assert submit_job(job, aws).endswith(JOB)
    stored = objects(aws, bucket, f"thaiocr/{JOB}/source/")
    assert list(stored) == [f"thaiocr/{JOB}/source/sourcedir.tar.gz"]


def test_submit_refuses_a_job_whose_data_is_not_uploaded(aws, bucket, tmp_path, tiny_config) -> None:
    job = plan_job(tiny_config, recipe_args(tiny_config, dataset(tmp_path / "d"))[3::2], f"s3://{bucket}/none",
                   "arn:aws:iam::123456789012:role/r", JobOptions("ml.m5.xlarge", 3600), REGION)
    with pytest.raises(AwsError, match="lacks rec_gt_train.txt, rec_gt_val.txt: upload the dataset folder first"):
        submit_job(job, aws)


# --- downloading --------------------------------------------------------------------------------


def model_archive(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return stream.getvalue()


RUN = {"best_accuracy.pt": b"best", "latest.pt": b"latest", "iter_epoch_5.pt": b"e5", "iter_epoch_10.pt": b"e10",
       "config.yml": b"Global: {}\n", "best_model/inference.onnx": b"onnx", "best_model/dict.txt": b"1\n"}


def job_with_model(aws: Aws, bucket: str, archive: bytes | None) -> Stubber:
    """A Completed job whose model.tar.gz (when given) is in moto's S3; SageMaker answers through a Stubber."""
    key = f"thaiocr/{JOB}/output/model.tar.gz"
    if archive is not None:
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=archive)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    aws.clients["sagemaker"] = sagemaker
    stubber = Stubber(sagemaker)
    stubber.add_response("describe_training_job", {
        "TrainingJobName": JOB, "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:1:training-job/{JOB}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{bucket}/{key}"}, "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed", "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, "CreationTime": datetime.now(timezone.utc)},
        {"TrainingJobName": JOB})
    stubber.activate()
    return stubber


def test_download_unpacks_the_guides_layout(aws, bucket, tmp_path) -> None:
    job_with_model(aws, bucket, model_archive(RUN, links={"best_model/model.onnx": "inference.onnx"}))
    dest = download_model(aws, JOB, tmp_path / "models" / "sagemaker_trained", progress=False)
    files = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert files == {**RUN, "best_model/model.onnx": b"onnx"}  # an inside link arrives as a copy
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_download_keeps_an_existing_folder_unless_forced(aws, bucket, tmp_path) -> None:
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    job_with_model(aws, bucket, model_archive(RUN))
    with pytest.raises(ThaiOCRError, match="not empty.*--force"):
        download_model(aws, JOB, dest, progress=False)
    job_with_model(aws, bucket, model_archive(RUN))
    download_model(aws, JOB, dest, force=True, progress=False)
    assert not (dest / "mine.txt").exists() and (dest / "latest.pt").read_bytes() == b"latest"


@pytest.mark.parametrize(("members", "links", "message"), [
    ({"../evil.txt": b"x"}, None, "outside the folder"),
    ({"/etc/evil.txt": b"x"}, None, "outside the folder"),
    ({"best_model/../../evil.txt": b"x"}, None, "outside the folder"),
    ({}, {"escape": "../../etc/passwd"}, "leads outside"),
    ({}, {"absolute": "/etc/passwd"}, "leads outside"),
])
def test_download_refuses_an_archive_that_escapes(aws, bucket, tmp_path, members, links, message) -> None:
    job_with_model(aws, bucket, model_archive({**RUN, **members}, links))
    dest = tmp_path / "deep" / "run"
    with pytest.raises(ThaiOCRError, match=message):
        download_model(aws, JOB, dest, progress=False)
    assert not dest.exists() and not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()


def test_download_of_a_job_without_its_archive_says_so(aws, bucket, tmp_path, run_cli, monkeypatch) -> None:
    job_with_model(aws, bucket, None)
    monkeypatch.setattr(Aws, "connect", classmethod(lambda cls, region=None: aws))
    code, _, err = run_cli("cloud", "download", JOB, tmp_path / "run")
    assert code == 2 and "model.tar.gz does not exist" in err


def test_download_on_the_command_line_describes_the_folder(aws, bucket, tmp_path, run_cli, monkeypatch) -> None:
    job_with_model(aws, bucket, model_archive(RUN))
    monkeypatch.setattr(Aws, "connect", classmethod(lambda cls, region=None: aws))
    code, out, _ = run_cli("-q", "cloud", "download", JOB, tmp_path / "run")
    assert code == 0
    assert "best_accuracy.pt, best_model, config.yml, latest.pt, 2 x iter_epoch_*.pt" in out
    assert "thaiocr predict --model" in out


# --- logs ---------------------------------------------------------------------------------------


def put_lines(aws: Aws, stream: str, *messages: str) -> None:
    logs = aws.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])


def sagemaker_statuses(aws: Aws, job: str, *statuses: str) -> Stubber:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    aws.clients["sagemaker"] = sagemaker
    stubber = Stubber(sagemaker)
    for status in statuses:
        stubber.add_response("describe_training_job", {
            "TrainingJobName": job, "TrainingJobArn": "arn:aws:sagemaker:us-east-1:1:training-job/x",
            "ModelArtifacts": {"S3ModelArtifacts": ""}, "TrainingJobStatus": status, "SecondaryStatus": "Training",
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600}, "CreationTime": datetime.now(timezone.utc)},
            {"TrainingJobName": ANY})
    stubber.activate()
    return stubber


def test_logs_prints_the_jobs_lines(aws) -> None:
    job = f"logs-{uuid.uuid4().hex[:8]}"
    put_lines(aws, f"{job}/algo-1-1700000000", "Training 163,811 parameters on cpu", "[eval] epoch 1 step 4")
    sagemaker_statuses(aws, job, "Completed")
    printed: list[str] = []
    assert print_logs(aws, job, out=printed.append) == 2
    assert printed == ["Training 163,811 parameters on cpu", "[eval] epoch 1 step 4"]


def test_following_logs_reads_new_lines_until_the_job_ends(aws) -> None:
    job = f"follow-{uuid.uuid4().hex[:8]}"
    put_lines(aws, f"{job}/algo-1-1", "first")
    sagemaker_statuses(aws, job, "InProgress", "InProgress", "Completed")
    printed: list[str] = []

    def sleep(_: float) -> None:  # while we wait, the job writes more (and a spot restart opens a new stream)
        put_lines(aws, f"{job}/algo-1-2", "after restart")

    assert print_logs(aws, job, follow=True, sleep=sleep, out=printed.append) == 2
    assert printed == ["first", "[algo-1-2] after restart"]  # named once there are several streams


def test_logs_before_the_job_has_written_any(aws, run_cli, monkeypatch) -> None:
    job = f"quiet-{uuid.uuid4().hex[:8]}"
    sagemaker_statuses(aws, job, "InProgress")
    monkeypatch.setattr(Aws, "connect", classmethod(lambda cls, region=None: aws))
    code, out, _ = run_cli("cloud", "logs", job)
    assert code == 0 and "no log lines" in out


def test_s3_uri_parts() -> None:
    uri = S3Uri.parse("s3://bucket-one/data/rec/")
    assert (uri.bucket, uri.prefix, uri.folder) == ("bucket-one", "data/rec/", "s3://bucket-one/data/rec/")
    assert str(uri.child("rec_gt_train.txt")) == "s3://bucket-one/data/rec/rec_gt_train.txt"
    assert S3Uri.parse("s3://bucket-one").prefix == ""


def test_help_imports_neither_boto3_nor_torch() -> None:
    probe = ("import sys\nfrom thaiocr.cli import main\n"
             "for argv in (['--help'], ['cloud', '--help'], ['cloud', 'train', '--help'],\n"
             "             ['cloud', 'deploy', '--help'], ['cloud', 'image', '--help']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print(sorted(m for m in ('boto3', 'botocore', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"

