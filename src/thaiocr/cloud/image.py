"""``thaiocr cloud image``: build ``Dockerfile.sagemaker`` and push it to this account's ECR.

The steps of the guide's section 3.2, in order: ``docker build``; ECR's repository created when
missing; ``docker login`` with a token from ``ecr.get_authorization_token`` (the password goes on
stdin, never on a command line); ``docker tag``; ``docker push``. The URI printed at the end is
what ``cloud train --image`` and ``cloud deploy --image`` take; ``cloud deploy`` uses it by default.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thaiocr.cloud.aws import Aws, AwsError, aws_errors
from thaiocr.errors import ThaiOCRError

DEFAULT_REPOSITORY = "thaiocr"
DEFAULT_TAG = "latest"
DOCKERFILE = "Dockerfile.sagemaker"
LOCAL_NAME = "thaiocr-sagemaker"


def account_id(aws: Aws) -> str:
    with aws_errors("asking STS which account the credentials belong to"):
        return aws.client("sts").get_caller_identity()["Account"]


def registry(account: str, region: str) -> str:
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def image_uri(account: str, region: str, repository: str = DEFAULT_REPOSITORY, tag: str = DEFAULT_TAG) -> str:
    return f"{registry(account, region)}/{repository}:{tag}"


def default_image(aws: Aws) -> str:
    """The URI ``cloud image`` pushes to by default, in this account and region, once it is there:
    an endpoint whose image is missing fails only after minutes of trying (and billing)."""
    uri = image_uri(account_id(aws), aws.region)
    try:
        with aws_errors(f"looking for {uri} in ECR"):
            aws.client("ecr").describe_images(repositoryName=DEFAULT_REPOSITORY, imageIds=[{"imageTag": DEFAULT_TAG}])
    except AwsError as exc:
        if exc.code in ("RepositoryNotFoundException", "ImageNotFoundException"):
            raise AwsError(f"{uri} is not in ECR: build and push it with `thaiocr cloud image`, or pass --image",
                           exc.code) from None
        raise
    return uri


@dataclass(frozen=True)
class ImagePlan:
    root: Path
    registry: str
    repository: str
    tag: str
    build_args: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"

    @property
    def local(self) -> str:
        return f"{LOCAL_NAME}:{self.tag}"

    def build_command(self) -> list[str]:
        extra = [arg for item in self.build_args for arg in ("--build-arg", item)]
        return ["docker", "build", "-f", str(self.root / DOCKERFILE), *extra, "-t", self.local, str(self.root)]

    def login_command(self) -> list[str]:
        return ["docker", "login", "--username", "AWS", "--password-stdin", self.registry]

    def tag_command(self) -> list[str]:
        return ["docker", "tag", self.local, self.uri]

    def push_command(self) -> list[str]:
        return ["docker", "push", self.uri]


def plan_image(aws: Aws, repository: str = DEFAULT_REPOSITORY, tag: str = DEFAULT_TAG,
               build_args: tuple[str, ...] = (), root: Path | None = None) -> ImagePlan:
    from thaiocr.cloud.bundle import source_root

    root = Path(root or source_root())
    if not (root / DOCKERFILE).is_file():
        raise ThaiOCRError(f"{root / DOCKERFILE} not found: run from a source checkout of thaiocr")
    return ImagePlan(root, registry(account_id(aws), aws.region), repository, tag, tuple(build_args))


def dry_run_lines(plan: ImagePlan) -> list[str]:
    """Each step as it would run; nothing is built, created or pushed."""
    return [
        f"1. build:  {shlex.join(plan.build_command())}",
        f"2. ECR:    create repository {plan.repository!r} if missing (ecr.create_repository)",
        f"3. login:  {shlex.join(plan.login_command())}   (password: an ecr.get_authorization_token token, on stdin)",
        f"4. tag:    {shlex.join(plan.tag_command())}",
        f"5. push:   {shlex.join(plan.push_command())}",
        f"Image URI: {plan.uri}",
    ]


def ensure_repository(aws: Aws, repository: str) -> bool:
    """Create the ECR repository unless it exists; True when it was created."""
    ecr = aws.client("ecr")
    try:
        with aws_errors(f"creating ECR repository {repository}"):
            ecr.create_repository(repositoryName=repository)
    except AwsError as exc:
        if exc.code == "RepositoryAlreadyExistsException":
            return False
        raise
    return True


def login_password(aws: Aws) -> str:
    """The password of ECR's ``AWS:<password>`` token."""
    with aws_errors("getting an ECR login token"):
        token = aws.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]


def run_docker(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, text=True)
    if done.returncode != 0:
        raise ThaiOCRError(f"`{shlex.join(argv)}` failed (exit code {done.returncode}); see its output above")


def build_and_push(aws: Aws, plan: ImagePlan, run: Callable[..., None] = run_docker,
                   out: Callable[[str], None] = print) -> str:
    """The five steps; returns the pushed image's URI."""
    if run is run_docker and shutil.which("docker") is None:
        raise ThaiOCRError("docker is not installed or not on PATH: install Docker to build the image")
    out(f"🐳 building {plan.local} from {DOCKERFILE}")
    run(plan.build_command())
    created = ensure_repository(aws, plan.repository)
    out(f"📦 ECR repository {plan.repository}: {'created' if created else 'exists'}")
    run(plan.login_command(), stdin=login_password(aws))
    run(plan.tag_command())
    run(plan.push_command())
    return plan.uri
