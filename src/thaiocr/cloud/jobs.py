"""``thaiocr cloud train``: one ``create_training_job`` request, planned locally and then sent.

What a job carries:

- the dataset: one input channel, ``training``, holding the S3 folder ``cloud upload`` wrote; the
  recipe's data folders and label files become paths relative to that folder (``data_layout``);
- the recipe: each top-level section of the YAML as written, and the ``-o`` overrides, as
  JSON-encoded hyperparameters (``config.Global``, ..., ``overrides``), plus ``data`` (the layout)
  and ``dict`` (the text of a dict file, which lives on this machine only);
- the code: on a prebuilt PyTorch image, thaiocr's source tarball (``bundle.py``), which the
  image's training toolkit fetches (``sagemaker_submit_directory``) and runs (``sagemaker_program``);
  an image of your own (``--image``) must have thaiocr installed and run ``thaiocr.cloud.container``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from thaiocr.cloud.aws import Aws, AwsError, S3Uri, aws_errors
from thaiocr.cloud.bundle import ENTRY_SCRIPT, build_source_tarball
from thaiocr.cloud.costs import Instance, instance
from thaiocr.cloud.s3sync import missing_keys
from thaiocr.config import Config, load_config
from thaiocr.errors import ThaiOCRError, did_you_mean
from thaiocr.kernel.recipe import read_yaml_mapping
from thaiocr.shipped import SHIPPED_MODELS, shipped_model_dir

CHANNEL = "training"
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
DEFAULT_VOLUME_GB = 30
HYPERPARAMETER_LIMIT = 2500  # characters per value (CreateTrainingJob's HyperParameterValue)
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

# SageMaker's prebuilt PyTorch training images (aws/deep-learning-containers, available_images.md).
IMAGE_REPOSITORY = "pytorch-training"
IMAGE_TAGS = {False: "2.5.1-cpu-py311-ubuntu22.04-sagemaker", True: "2.5.1-gpu-py311-cu124-ubuntu22.04-sagemaker"}
DLC_ACCOUNT = "763104351884"  # the registry of most regions; the others:
REGION_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-southeast-3": "907027046896",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
    "me-central-1": "914824155844",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
}
DLC_REGIONS = {
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-north-1", "sa-east-1", *REGION_ACCOUNTS,
}


@dataclass(frozen=True)
class JobOptions:
    """What ``cloud train`` takes besides the recipe, the data and the role (defaults: the command line's)."""

    instance_type: str
    max_runtime: int
    instance_count: int = 1
    spot: bool = False
    max_wait: int | None = None  # spot only; default twice max_runtime
    image: str | None = None
    tags: tuple[str, ...] = ()
    output: str | None = None  # default: s3://<data bucket>/thaiocr/
    job_name: str | None = None
    volume_gb: int = DEFAULT_VOLUME_GB


@dataclass
class JobPlan:
    """A ready request and what ``submit_job`` must do first (upload the source, name the role's ARN)."""

    request: dict[str, Any]
    region: str
    data: S3Uri
    label_keys: list[str]
    role: str
    code: S3Uri | None
    gpu: bool
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

    def banner(self) -> str:
        resources = self.request["ResourceConfig"]
        kind = ("GPU" if self.gpu else "CPU") + (", spot" if self.request["EnableManagedSpotTraining"] else "")
        rule = "=" * 50
        lines = [
            "🚀 thaiocr - SageMaker training", rule,
            f"📍 Region: {self.region}",
            f"🐳 Image: {self.request['AlgorithmSpecification']['TrainingImage']}",
            f"📊 Input data: {self.data.folder}",
            f"📦 Output path: {self.request['OutputDataConfig']['S3OutputPath']}",
            f"🔧 Instance type: {resources['InstanceType']} x {resources['InstanceCount']} ({kind})",
            rule,
        ]
        return "\n".join(lines + self.notes)


# --- the recipe ---------------------------------------------------------------------------------


def check_cloud_ready(config: Config) -> None:
    """Refuse what a job cannot do with this recipe, before anything is sent."""
    where = config.source or "config"
    for split, section in (("Train", config.Train), ("Eval", config.Eval)):
        if section and section.dataset.is_synthetic:
            raise ThaiOCRError(f"{where}: {split}.dataset is a SynthDataSet; a job trains on label files: write "
                               "the lines with `thaiocr synth`, upload the folder, and use SimpleDataSet")
    for key in ("pretrained_model", "checkpoints"):
        value = getattr(config.Global, key)
        # `pretrained_model: shipped` (or shipped-small) travels by name and resolves inside the job's
        # copy of the package.
        travels_by_name = key == "pretrained_model" and value in {shipped_model_dir(n) for n in SHIPPED_MODELS}
        if value and not travels_by_name:
            raise ThaiOCRError(f"{where}: Global.{key} names a file on this machine, which a job cannot read; "
                               "a job starts afresh (or from `shipped` or `shipped-small`, the models in the "
                               "package) or resumes from its own checkpoints")


def data_layout(config: Config) -> tuple[Path, dict[str, dict]]:
    """The dataset folder on this machine, and each split's data folder and label files relative to it.

    The folder is the deepest one holding every data folder and label file of the recipe; it is
    the folder ``cloud upload`` is expected to have copied to the job's S3 folder.
    """
    splits = {"Train": config.Train.dataset}
    if config.Eval:
        splits["Eval"] = config.Eval.dataset
    paths = [Path(p).absolute() for d in splits.values() for p in (d.data_dir, *d.label_file_list)]
    root = Path(os.path.commonpath([os.path.normpath(p) for p in paths]))
    if root == Path(root.anchor):
        raise ThaiOCRError("the recipe's data folders and label files share no folder: gather them in one "
                           "dataset folder (the one you upload) and point the recipe there")

    def relative(path: Path) -> str:
        return Path(os.path.normpath(Path(path).absolute())).relative_to(root).as_posix()

    layout = {name: {"data_dir": relative(d.data_dir), "label_file_list": [relative(p) for p in d.label_file_list]}
              for name, d in splits.items()}
    return root, layout


def dict_text(config: Config) -> str | None:
    """The text of the recipe's dict file; None for a built-in dict, which the job has already."""
    from thaiocr.charset import BUILTIN_DICTS

    path = config.Global.character_dict_path
    if path in BUILTIN_DICTS:
        return None
    try:
        return Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ThaiOCRError(f"Global.character_dict_path {path}: cannot read the dict to send with the job ({exc})"
                           ) from None


def encode_hyperparameters(values: dict[str, Any]) -> dict[str, str]:
    """Every value JSON-encoded, as the SageMaker Python SDK does; each must fit SageMaker's limit."""
    encoded = {key: json.dumps(value, ensure_ascii=False) for key, value in values.items()}
    for key, text in encoded.items():
        if len(text) > HYPERPARAMETER_LIMIT:
            raise ThaiOCRError(f"hyperparameter {key!r} is {len(text)} characters, more than the "
                               f"{HYPERPARAMETER_LIMIT} SageMaker allows: shorten that part of the recipe")
    return encoded


def recipe_hyperparameters(raw: dict, overrides: list[str], layout: dict[str, dict], dict_file: str | None
                           ) -> dict[str, Any]:
    """The recipe as the container reads it back (``container.JobRecipe``)."""
    values: dict[str, Any] = {f"config.{section}": value for section, value in raw.items()}
    values["overrides"] = list(overrides)
    values["data"] = {"channel": CHANNEL, **layout}
    if dict_file is not None:
        values["dict"] = dict_file
    return values


# --- the request --------------------------------------------------------------------------------


def prebuilt_image(region: str, gpu: bool) -> str:
    if region not in DLC_REGIONS:
        raise ThaiOCRError(f"no prebuilt PyTorch image known for region {region!r}{did_you_mean(region, DLC_REGIONS)}"
                           "; pass --image with an image of your own")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    account = REGION_ACCOUNTS.get(region, DLC_ACCOUNT)
    return f"{account}.dkr.ecr.{region}.{domain}/{IMAGE_REPOSITORY}:{IMAGE_TAGS[gpu]}"


def default_job_name(config_path: Path, now: datetime) -> str:
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", Path(config_path).stem).strip("-") or "job"
    stamp = now.strftime("%Y%m%d-%H%M%S")
    return f"thaiocr-{stem[:63 - len('thaiocr--') - len(stamp)].strip('-')}-{stamp}"


def parse_tags(items: tuple[str, ...] | list[str]) -> list[dict[str, str]]:
    tags = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ThaiOCRError(f"--tag {item!r}: expected KEY=VALUE")
        tags.append({"Key": key, "Value": value})
    return tags


def role_arn(role: str) -> str:
    """An ARN as given; a role name as an ARN with a placeholder account (``submit_job`` asks IAM)."""
    return role if role.startswith("arn:") else f"arn:aws:iam::<account-id>:role/{role}"


def _stopping_condition(options: JobOptions) -> dict[str, int]:
    if options.max_runtime < 1:
        raise ThaiOCRError("--max-runtime must be at least 1 second")
    if not options.spot:
        if options.max_wait is not None:
            raise ThaiOCRError("--max-wait applies to spot training only: add --spot")
        return {"MaxRuntimeInSeconds": options.max_runtime}
    max_wait = options.max_wait if options.max_wait is not None else 2 * options.max_runtime
    if max_wait < options.max_runtime:
        raise ThaiOCRError(f"--max-wait ({max_wait} s) must be at least --max-runtime ({options.max_runtime} s): "
                           "it counts the time spent waiting for spot capacity plus the training time")
    return {"MaxRuntimeInSeconds": options.max_runtime, "MaxWaitTimeInSeconds": max_wait}


def _check_instance_count(count: int) -> None:
    if count < 1:
        raise ThaiOCRError("--instance-count must be at least 1")


def _job_name(given: str | None, config_path: Path, now: datetime | None) -> str:
    name = given or default_job_name(config_path, now or datetime.now())
    if not JOB_NAME.fullmatch(name):
        raise ThaiOCRError(f"job name {name!r}: 1-63 letters, digits and hyphens, starting and ending with "
                           "a letter or digit")
    return name


def _toolkit_hyperparameters(code: S3Uri | None, region: str) -> dict[str, str]:
    """What the prebuilt image's training toolkit reads: which program to run, from which tarball."""
    if code is None:
        return {}
    return {"sagemaker_program": ENTRY_SCRIPT, "sagemaker_submit_directory": str(code), "sagemaker_region": region}


def _request(name: str, options: JobOptions, machine: Instance, image: str, role: str, data: S3Uri, output: S3Uri,
             hyperparameters: dict[str, str]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role_arn(role),
        "HyperParameters": hyperparameters,
        "InputDataConfig": [{
            "ChannelName": CHANNEL,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.folder,
                                            "S3DataDistributionType": "FullyReplicated"}},
            "InputMode": "File",
        }],
        "OutputDataConfig": {"S3OutputPath": output.folder},
        "ResourceConfig": {"InstanceType": machine.name, "InstanceCount": options.instance_count,
                           "VolumeSizeInGB": options.volume_gb},
        "StoppingCondition": _stopping_condition(options),
        "EnableManagedSpotTraining": options.spot,
    }
    if options.spot:
        request["CheckpointConfig"] = {"S3Uri": output.child(name, "checkpoints").folder,
                                       "LocalPath": CHECKPOINT_LOCAL_PATH}
    if options.tags:
        request["Tags"] = parse_tags(options.tags)
    return request


def plan_job(config_path: Path, overrides: list[str], data: str, role: str, options: JobOptions,
             region: str, now: datetime | None = None) -> JobPlan:
    """The request for a job of this recipe; nothing is sent and no AWS call is made."""
    config = load_config(config_path, overrides)
    check_cloud_ready(config)
    _, layout = data_layout(config)
    data_uri = S3Uri.parse(data)
    machine = instance(options.instance_type)
    _check_instance_count(options.instance_count)
    name = _job_name(options.job_name, config_path, now)
    output = S3Uri.parse(options.output) if options.output else S3Uri(data_uri.bucket, "thaiocr")
    code = None if options.image else output.child(name, "source", "sourcedir.tar.gz")
    values = {**recipe_hyperparameters(read_yaml_mapping(Path(config_path)), overrides, layout, dict_text(config)),
              **_toolkit_hyperparameters(code, region)}
    image = options.image or prebuilt_image(region, machine.gpu)
    request = _request(name, options, machine, image, role, data_uri, output, encode_hyperparameters(values))
    label_keys = sorted({key for split in layout.values() for key in split["label_file_list"]})
    notes = [] if machine.gpu else ["💡 a CPU instance: `thaiocr cloud estimate` compares it with GPU ones"]
    return JobPlan(request, region, data_uri, label_keys, role, code, machine.gpu, notes)


# --- sending ------------------------------------------------------------------------------------


def resolve_role(aws: Aws, role: str) -> str:
    if role.startswith("arn:"):
        return role
    with aws_errors(f"looking up IAM role {role!r}"):
        return aws.client("iam").get_role(RoleName=role)["Role"]["Arn"]


def submit_job(plan: JobPlan, aws: Aws) -> str:
    """Check the data is there, upload the source tarball, create the job; returns the job's ARN."""
    s3 = aws.client("s3")
    missing = missing_keys(s3, plan.data, plan.label_keys)
    if missing:
        raise AwsError(f"{plan.data.folder} lacks {', '.join(missing)}: upload the dataset folder first "
                       f"(thaiocr cloud upload DATASET_DIR {plan.data.folder})")
    request = {**plan.request, "RoleArn": resolve_role(aws, plan.role)}
    if plan.code is not None:
        with tempfile.TemporaryDirectory() as tmp, aws_errors(f"uploading thaiocr's source to {plan.code}"):
            tarball = build_source_tarball(Path(tmp) / "sourcedir.tar.gz")
            s3.upload_file(Filename=str(tarball), Bucket=plan.code.bucket, Key=plan.code.key)
    with aws_errors(f"creating training job {plan.name}"):
        return aws.client("sagemaker").create_training_job(**request)["TrainingJobArn"]
