"""``cloud train``'s request, planned without AWS: image, hyperparameters, spot, tags, bad input; the bundle; prices.

Requests are checked against SageMaker's own API model with botocore's Stubber, so a field that
CreateTrainingJob would reject fails here.
"""

from __future__ import annotations

import json
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from thaiocr.cloud.bundle import ENTRY_SCRIPT, build_source_tarball, source_root
from thaiocr.cloud.costs import instance, parse_table
from thaiocr.cloud.jobs import HYPERPARAMETER_LIMIT, JobOptions, data_layout, plan_job, prebuilt_image
from thaiocr.config import load_config
from thaiocr.errors import ThaiOCRError
from thaiocr.shipped import shipped_model_dir

DATA = "s3://thaiocr-data/datasets/numbers"
ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"
NOW = datetime(2025, 8, 7, 10, 0, 59)


def options(**kwargs) -> JobOptions:
    return JobOptions(**{"instance_type": "ml.m5.xlarge", "max_runtime": 3600, **kwargs})


def local_dataset(folder: Path) -> list[str]:
    """The guide's layout: label files at the top, images under thai_data/ (names only; plan reads no image)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("rec_gt_train.txt", "rec_gt_val.txt"):
        (folder / name).write_text("train/1.png\t12\n", encoding="utf-8")
    return ["-o", f"Train.dataset.data_dir={folder / 'thai_data'}",
            "-o", f"Train.dataset.label_file_list=[{folder / 'rec_gt_train.txt'}]",
            "-o", f"Eval.dataset.data_dir={folder / 'thai_data'}",
            "-o", f"Eval.dataset.label_file_list=[{folder / 'rec_gt_val.txt'}]"]


def overrides_of(argv: list[str]) -> list[str]:
    return argv[1::2]


def plan(tiny_config: Path, tmp_path: Path, extra: tuple[str, ...] = (), **kwargs):
    overrides = overrides_of(local_dataset(tmp_path / "data")) + list(extra)
    return plan_job(tiny_config, overrides, DATA, ROLE_ARN, options(**kwargs), "us-east-1", NOW)


def decoded(request: dict) -> dict:
    return {key: json.loads(value) for key, value in request["HyperParameters"].items()}


def assert_valid_for_sagemaker(request: dict) -> None:
    """CreateTrainingJob's input model accepts the request (botocore validates stubbed calls)."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_response("create_training_job", {"TrainingJobArn": "arn:aws:sagemaker:job"}, request)
        client.create_training_job(**request)


# --- the request --------------------------------------------------------------------------------


def test_a_cpu_job_request_is_valid_and_carries_the_recipe(tiny_config, tmp_path) -> None:
    job = plan(tiny_config, tmp_path, ("Global.epoch_num=1",))
    request = job.request
    assert_valid_for_sagemaker(request)
    assert request["TrainingJobName"] == "thaiocr-tiny-test-20250807-100059"
    assert request["AlgorithmSpecification"]["TrainingImage"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker")
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == DATA + "/"
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://thaiocr-data/thaiocr/"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert request["EnableManagedSpotTraining"] is False and "CheckpointConfig" not in request
    values = decoded(request)
    raw = yaml.safe_load(tiny_config.read_text(encoding="utf-8"))
    assert {key.removeprefix("config."): v for key, v in values.items() if key.startswith("config.")} == raw
    assert values["overrides"][-1] == "Global.epoch_num=1"
    assert values["data"] == {"channel": "training",
                              "Train": {"data_dir": "thai_data", "label_file_list": ["rec_gt_train.txt"]},
                              "Eval": {"data_dir": "thai_data", "label_file_list": ["rec_gt_val.txt"]}}
    assert "dict" not in values  # a built-in dict travels with the code
    assert values["sagemaker_program"] == ENTRY_SCRIPT
    assert values["sagemaker_submit_directory"] == str(job.code) == (
        "s3://thaiocr-data/thaiocr/thaiocr-tiny-test-20250807-100059/source/sourcedir.tar.gz")
    assert all(len(v) <= HYPERPARAMETER_LIMIT for v in request["HyperParameters"].values())


def test_a_gpu_spot_job_gets_the_gpu_image_checkpoints_and_a_max_wait(tiny_config, tmp_path) -> None:
    job = plan(tiny_config, tmp_path, instance_type="ml.g4dn.xlarge", spot=True, tags=("team=ocr", "cost=dev"))
    request = job.request
    assert_valid_for_sagemaker(request)
    assert request["AlgorithmSpecification"]["TrainingImage"].endswith("2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker")
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["CheckpointConfig"] == {
        "S3Uri": "s3://thaiocr-data/thaiocr/thaiocr-tiny-test-20250807-100059/checkpoints/",
        "LocalPath": "/opt/ml/checkpoints"}
    assert request["Tags"] == [{"Key": "team", "Value": "ocr"}, {"Key": "cost", "Value": "dev"}]
    assert "GPU, spot" in job.banner()


def test_an_own_image_ships_no_source_and_a_role_name_waits_for_iam(tiny_config, tmp_path) -> None:
    overrides = overrides_of(local_dataset(tmp_path / "data"))
    job = plan_job(tiny_config, overrides, DATA, "SageMakerRole", options(image="1.dkr.ecr/thaiocr:1"),
                   "us-east-1", NOW)
    assert job.code is None
    assert not any(key.startswith("sagemaker_") for key in job.request["HyperParameters"])
    assert job.request["RoleArn"] == "arn:aws:iam::<account-id>:role/SageMakerRole"


def test_a_dict_file_travels_as_a_hyperparameter(tiny_config, tmp_path) -> None:
    dict_file = tmp_path / "th_dict.txt"
    dict_file.write_text("๑\n๒\n๓\n", encoding="utf-8")
    job = plan(tiny_config, tmp_path, (f"Global.character_dict_path={dict_file}",))
    assert decoded(job.request)["dict"] == "๑\n๒\n๓\n"


def test_the_guide_region_has_an_image_and_china_its_own_domain() -> None:
    assert prebuilt_image("ap-southeast-1", True).startswith("763104351884.dkr.ecr.ap-southeast-1.amazonaws.com/")
    assert prebuilt_image("cn-north-1", False).startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    with pytest.raises(ThaiOCRError, match="no prebuilt PyTorch image.*--image"):
        prebuilt_image("xx-nowhere-1", False)


def test_data_layout_is_relative_to_the_folder_holding_all_data(tiny_config, tmp_path) -> None:
    config = load_config(tiny_config, overrides_of(local_dataset(tmp_path / "ds")))
    root, layout = data_layout(config)
    assert root == tmp_path / "ds"
    assert layout["Train"] == {"data_dir": "thai_data", "label_file_list": ["rec_gt_train.txt"]}


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"instance_type": "ml.g4dn.xlarg"}, "did you mean 'ml.g4dn.xlarge'"),
    ({"instance_count": 0}, "at least 1"),
    ({"max_wait": 7200}, "--max-wait applies to spot"),
    ({"spot": True, "max_wait": 60}, "must be at least --max-runtime"),
    ({"max_runtime": 0}, "--max-runtime"),
    ({"tags": ("novalue",)}, "KEY=VALUE"),
    ({"job_name": "bad_name!"}, "job name"),
    ({"output": "bucket/models"}, "not an S3 URI"),
])
def test_bad_job_options_are_refused_with_a_reason(tiny_config, tmp_path, kwargs, message) -> None:
    with pytest.raises(ThaiOCRError, match=message):
        plan(tiny_config, tmp_path, **kwargs)


@pytest.mark.parametrize(("extra", "message"), [
    (("Train.dataset.name=SynthDataSet",), "SynthDataSet"),
    (("Global.pretrained_model=/models/best_accuracy.pt",), "pretrained_model names a file on this machine"),
    ((f"Global.checkpoints={shipped_model_dir()}",), "checkpoints names a file on this machine"),
    (("Global.character_dict_path=/nowhere/dict.txt",), "cannot read the dict"),
])
def test_recipes_a_job_cannot_run_are_refused(tiny_config, tmp_path, extra, message) -> None:
    with pytest.raises(ThaiOCRError, match=message):
        plan(tiny_config, tmp_path, extra)


@pytest.mark.parametrize("name", ["shipped", "shipped-small"])
def test_a_shipped_model_may_start_a_job_and_travels_by_name(tiny_config, tmp_path, name) -> None:
    job = plan(tiny_config, tmp_path, (f"Global.pretrained_model={name}",))
    assert f"Global.pretrained_model={name}" in decoded(job.request)["overrides"]


def test_a_recipe_section_over_sagemakers_limit_is_named(tiny_config, tmp_path) -> None:
    long_dict = tmp_path / "long_dict.txt"
    long_dict.write_text("\n".join(chr(0x4E00 + i) for i in range(1500)), encoding="utf-8")
    with pytest.raises(ThaiOCRError, match="hyperparameter 'dict' is .* more than the 2500"):
        plan(tiny_config, tmp_path, (f"Global.character_dict_path={long_dict}",))


@pytest.mark.parametrize("uri", ["bucket/prefix", "s3://", "s3://Bad_Bucket/x", "s3://ab/x"])
def test_bad_s3_uris_are_refused(tiny_config, tmp_path, uri) -> None:
    overrides = overrides_of(local_dataset(tmp_path / "data"))
    with pytest.raises(ThaiOCRError, match="S3 URI|bucket name"):
        plan_job(tiny_config, overrides, uri, ROLE_ARN, options(), "us-east-1", NOW)


# --- the command line ---------------------------------------------------------------------------


def test_dry_run_prints_the_request_and_sends_nothing(tiny_config, tmp_path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any call would fail
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
    code, out, _ = run_cli("cloud", "train", "-c", tiny_config, *local_dataset(tmp_path / "data"), "--s3", DATA,
                           "--role", "SageMakerRole", "--instance-type", "ml.g4dn.xlarge", "--spot",
                           "--max-wait", "7200", "--max-runtime", "3600", "--tag", "k=v", "--dry-run")
    assert code == 0
    request = json.loads(out)
    assert request["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert "ap-southeast-1" in request["AlgorithmSpecification"]["TrainingImage"]
    assert request["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert_valid_for_sagemaker(request)  # what was printed is what create_training_job takes


def test_an_unknown_instance_type_is_a_clean_error(tiny_config, tmp_path, run_cli) -> None:
    code, _, err = run_cli("cloud", "train", "-c", tiny_config, *local_dataset(tmp_path / "data"), "--s3", DATA,
                           "--role", ROLE_ARN, "--region", "us-east-1", "--instance-type", "ml.p3.2xlarg",
                           "--dry-run")
    assert code == 2 and "did you mean 'ml.p3.2xlarge'" in err


# --- the source tarball -------------------------------------------------------------------------


def test_the_source_tarball_holds_the_package_and_the_entry_script(tmp_path) -> None:
    first = build_source_tarball(tmp_path / "a.tar.gz")
    second = build_source_tarball(tmp_path / "b.tar.gz")
    assert first.read_bytes() == second.read_bytes()  # reproducible
    with tarfile.open(first) as archive:
        names = set(archive.getnames())
    package = source_root() / "src" / "thaiocr"
    expected = {p.relative_to(source_root()).as_posix() for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert expected <= names
    assert {"pyproject.toml", ENTRY_SCRIPT, "src/thaiocr/cloud/prices.csv",
            "src/thaiocr/resources/digits_dict.txt"} <= names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


# --- the price table ----------------------------------------------------------------------------


def test_prices_fall_back_to_us_east_1_and_say_so() -> None:
    price = instance("ml.g4dn.xlarge").price("ap-southeast-1")
    assert price.region == "us-east-1" and not price.exact
    assert "ap-southeast-1 may differ" in price.describe()
    assert price.cost(3600) == pytest.approx(price.usd_per_hour)


def test_a_regional_row_overrides_the_fallback() -> None:
    table = parse_table("# comment\ninstance_type,region,usd_per_hour,vcpus,gpus,relative_speed\n"
                        "ml.x.large,us-east-1,1.0,2,0,1\nml.x.large,ap-southeast-1,1.5,2,0,1\n")
    assert table["ml.x.large"].price("ap-southeast-1").usd_per_hour == 1.5
    with pytest.raises(ThaiOCRError, match="lack a us-east-1 row"):
        parse_table("instance_type,region,usd_per_hour,vcpus,gpus,relative_speed\nml.y,eu-west-1,1,2,0,1\n")
