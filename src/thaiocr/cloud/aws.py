"""The AWS edge: S3 URIs, the region, boto3 clients, and botocore errors turned into plain messages.

boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_S3`` ...), so the same code talks to a
local ``moto_server`` in the tests.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from thaiocr.errors import ThaiOCRError

# S3's rules for new bucket names: 3-63 characters, lower-case letters, digits, dots and hyphens.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
CREDENTIALS_FIX = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary credentials), "
    "or AWS_PROFILE; `aws sts get-caller-identity` must answer"
)


class AwsError(ThaiOCRError):
    """An AWS call that failed for a reason the user can fix; ``code`` is AWS's error code, if any."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class S3Uri:
    """``s3://bucket/key``; ``key`` has no leading slash and may be empty (the bucket's root)."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, text: str) -> S3Uri:
        if not text.startswith("s3://"):
            raise ThaiOCRError(f"{text!r} is not an S3 URI: expected s3://bucket/prefix")
        bucket, _, key = text[len("s3://"):].partition("/")
        if not BUCKET_NAME.fullmatch(bucket):
            raise ThaiOCRError(
                f"{text!r}: {bucket!r} is not a valid bucket name "
                "(3-63 lower-case letters, digits, dots or hyphens)"
            )
        return cls(bucket, key.lstrip("/"))

    @property
    def prefix(self) -> str:
        """The key as a folder: empty, or ending in one slash."""
        key = self.key.rstrip("/")
        return f"{key}/" if key else ""

    @property
    def folder(self) -> str:
        """The URI with a trailing slash: as an S3 prefix it matches this folder only, not ``name2/``."""
        return f"s3://{self.bucket}/{self.prefix}"

    def child(self, *parts: str) -> S3Uri:
        return S3Uri(self.bucket, self.prefix + "/".join(p.strip("/") for p in parts))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def find_region(region: str | None = None) -> str | None:
    """The region every cloud command uses: ``region`` (``--region``), else ``AWS_REGION``, else
    ``AWS_DEFAULT_REGION``, else the profile's; None when none says.

    boto3 itself reads only ``AWS_DEFAULT_REGION`` and the profile, while the AWS CLI v2, the other
    SDKs and SageMaker's containers set ``AWS_REGION``, so that one is read here first.
    """
    found = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if found:
        return found
    try:
        import boto3
    except ImportError:  # `cloud estimate` prices without the cloud extra
        return None
    with aws_errors("reading the AWS profile"):
        return boto3.session.Session().region_name


def resolve_region(region: str | None = None) -> str:
    """:func:`find_region`, which must find one."""
    found = find_region(region)
    if not found:
        raise AwsError("no AWS region: pass --region or set AWS_REGION (e.g. ap-southeast-1)")
    return found


@dataclass
class Aws:
    """The clients of one region, made on first use; tests hand in their own (stubbed or fake) ones.

    Each ``Aws`` has its own boto3 session, so it looks up credentials afresh (boto3's default
    session keeps the first ones it found for the life of the process).
    """

    region: str
    clients: dict[str, Any] = field(default_factory=dict)
    session: Any = None

    @classmethod
    def connect(cls, region: str | None = None) -> Aws:
        return cls(resolve_region(region))

    def client(self, service: str) -> Any:
        if service not in self.clients:
            import boto3

            self.session = self.session or boto3.session.Session(region_name=self.region)
            self.clients[service] = self.session.client(service)
        return self.clients[service]


def error_code(exc: Exception) -> str:
    """The AWS error code of a ``ClientError`` (``NoSuchBucket``, ``404`` ...); empty for others."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def describe_error(exc: Exception, doing: str) -> str:
    """A one-line message for a botocore exception raised while ``doing`` something."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return f"{doing}: no usable AWS credentials; {CREDENTIALS_FIX}"
    if isinstance(exc, bx.NoRegionError):
        return f"{doing}: no AWS region: pass --region or set AWS_REGION"
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return f"{doing}: cannot reach AWS ({exc}); check the network or AWS_ENDPOINT_URL"
    code = error_code(exc)
    message = (getattr(exc, "response", None) or {}).get("Error", {}).get("Message", "") or str(exc)
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return f"{doing}: the AWS credentials have expired; refresh them ({CREDENTIALS_FIX})"
    if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidAccessKeyId"):
        return f"{doing}: AWS rejected the credentials ({code}); {CREDENTIALS_FIX}"
    if code in ("AccessDenied", "AccessDeniedException", "403"):
        return f"{doing}: access denied: the credentials lack the permission ({message})"
    return f"{doing}: {code or type(exc).__name__}: {message}"


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn botocore's exceptions inside the block into an ``AwsError`` that names what was being done."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise AwsError(describe_error(exc, doing), error_code(exc)) from None
