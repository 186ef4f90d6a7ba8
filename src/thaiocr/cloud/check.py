"""``thaiocr cloud check``: the guide's setup check, one ✅/❌ line per item, each failure with its fix.

The items: AWS credentials (STS), the bucket, the training data under the S3 folder (the recipe's
label files), the SageMaker execution role (exists, trusts ``sagemaker.amazonaws.com``), and the
local recipe (loads, and a job can run it).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thaiocr.cloud.aws import CREDENTIALS_FIX, Aws, S3Uri, aws_errors
from thaiocr.cloud.jobs import check_cloud_ready, data_layout
from thaiocr.cloud.s3sync import missing_keys, require_bucket
from thaiocr.config import load_config
from thaiocr.errors import ThaiOCRError

SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
DEFAULT_LABELS = ["rec_gt_train.txt"]  # what to look for when the recipe itself does not load
COUNT_LIMIT = 1000  # objects counted under the data folder (one list call)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{'✅' if self.ok else '❌'} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n   fix: {self.fix}"


def _guarded(name: str, fix: str, probe: Callable[[], str]) -> Check:
    """Run ``probe`` (it returns the success detail); a ThaiOCRError (AwsError included) fails the check."""
    try:
        return Check(name, True, probe())
    except ThaiOCRError as exc:
        return Check(name, False, str(exc), "" if fix in str(exc) else fix)  # said once is enough


def check_credentials(aws: Aws) -> Check:
    def probe() -> str:
        with aws_errors("asking STS who we are"):
            identity = aws.client("sts").get_caller_identity()
        return f"account {identity['Account']} ({identity['Arn']})"

    return _guarded("AWS credentials", CREDENTIALS_FIX, probe)


def check_bucket(aws: Aws, data: S3Uri) -> Check:
    def probe() -> str:
        require_bucket(aws.client("s3"), data.bucket)
        return f"s3://{data.bucket} reachable in {aws.region}"

    fix = (f"create it (aws s3 mb s3://{data.bucket} --region {aws.region}), or grant these credentials "
           "s3:ListBucket, s3:GetObject and s3:PutObject on it")
    return _guarded("S3 bucket", fix, probe)


def check_training_data(aws: Aws, data: S3Uri, label_keys: list[str]) -> Check:
    def probe() -> str:
        s3 = aws.client("s3")
        missing = missing_keys(s3, data, label_keys)
        if missing:
            raise ThaiOCRError(f"{data.folder} lacks {', '.join(missing)}")
        with aws_errors(f"listing {data.folder}"):
            count = s3.list_objects_v2(Bucket=data.bucket, Prefix=data.prefix, MaxKeys=COUNT_LIMIT)["KeyCount"]
        more = "+" if count >= COUNT_LIMIT else ""
        return f"{data.folder}: {', '.join(label_keys)} and {count}{more} objects in all"

    return _guarded("S3 training data", f"upload the dataset folder: thaiocr cloud upload DATASET_DIR {data.folder}",
                    probe)


def trusts_sagemaker(document: Any) -> bool:
    """Whether a role's trust policy lets SageMaker assume it (the document as IAM returns it)."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = statement.get("Action", [])
        principal = statement.get("Principal")
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        if (statement.get("Effect") == "Allow"
                and {"sts:AssumeRole", "sts:*", "*"} & set([actions] if isinstance(actions, str) else actions)
                and SAGEMAKER_PRINCIPAL in ([services] if isinstance(services, str) else services)):
            return True
    return False


def check_role(aws: Aws, role: str) -> Check:
    name = role.rsplit("/", 1)[-1]

    def probe() -> str:
        with aws_errors(f"looking up IAM role {name!r}"):
            found = aws.client("iam").get_role(RoleName=name)["Role"]
        if not trusts_sagemaker(found.get("AssumeRolePolicyDocument", {})):
            raise ThaiOCRError(f"{found['Arn']} does not trust {SAGEMAKER_PRINCIPAL}")
        return f"{found['Arn']} (trusted by {SAGEMAKER_PRINCIPAL})"

    fix = (f"create a SageMaker execution role (IAM > Roles > Create role > SageMaker) whose trust policy "
           f"lets {SAGEMAKER_PRINCIPAL} sts:AssumeRole and which may read and write the bucket; pass its name or ARN")
    return _guarded("SageMaker IAM role", fix, probe)


def check_config(config_path: Path, overrides: list[str]) -> tuple[Check, list[str]]:
    """The recipe's check, and the label files a job would read (relative to the S3 folder)."""
    name = "Local configuration"
    try:
        config = load_config(config_path, overrides)
        check_cloud_ready(config)
        root, layout = data_layout(config)
    except ThaiOCRError as exc:
        fix = f"correct the recipe; `thaiocr data check -c {config_path}` checks its data too"
        return Check(name, False, str(exc), fix), list(DEFAULT_LABELS)
    labels = sorted({key for split in layout.values() for key in split["label_file_list"]})
    detail = (f"{config_path}: {config.Global.epoch_num} epochs, batch {config.Train.loader.batch_size_per_card}, "
              f"dataset folder {root}")
    return Check(name, True, detail), labels


def run_checks(aws: Aws, config_path: Path, overrides: list[str], data: str, role: str) -> list[Check]:
    """Every check, in the guide's order; AWS items after failed credentials are marked unchecked."""
    data_uri = S3Uri.parse(data)
    config_check, label_keys = check_config(config_path, overrides)
    credentials = check_credentials(aws)
    if not credentials.ok:
        unchecked = "not checked: needs working credentials"
        rest = [Check(name, False, unchecked) for name in ("S3 bucket", "S3 training data", "SageMaker IAM role")]
        return [credentials, *rest, config_check]
    bucket = check_bucket(aws, data_uri)
    training_data = (check_training_data(aws, data_uri, label_keys) if bucket.ok
                     else Check("S3 training data", False, "not checked: needs the bucket"))
    return [credentials, bucket, training_data, check_role(aws, role), config_check]
