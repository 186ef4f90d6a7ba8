"""``thaiocr cloud upload``: copy a dataset folder to S3 with sync semantics.

A file is skipped when S3 already holds an object of the same size and the same content: its ETag
is the MD5 of the bytes for a single-part upload, and for a multipart upload the MD5 of the parts'
MD5s followed by ``-<parts>``, which is recomputed locally with the part size this module uploads
with. Files go up in parallel, large ones in parts. S3 creates an object only when its upload
completes (an unfinished multipart upload is aborted), so an interrupted run leaves whole objects
or none, and running the same command again uploads only what is missing or changed.
"""

from __future__ import annotations

import fnmatch
import hashlib
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thaiocr.cloud.aws import Aws, AwsError, S3Uri, aws_errors
from thaiocr.errors import ThaiOCRError

MIB = 1024 * 1024
PART_SIZE = 8 * MIB  # the AWS CLI's default part size and multipart threshold
DEFAULT_WORKERS = 8  # files in flight at once
READ_BLOCK = MIB


@dataclass(frozen=True)
class LocalFile:
    path: Path
    key: str
    size: int


@dataclass(frozen=True)
class SyncPlan:
    upload: list[LocalFile]
    unchanged: list[LocalFile]

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.upload)


@dataclass(frozen=True)
class SyncResult:
    destination: S3Uri
    uploaded: int
    unchanged: int
    bytes_uploaded: int

    def summary(self) -> str:
        size = f"{self.bytes_uploaded / MIB:.1f} MiB"
        return (f"Uploaded {self.uploaded} files ({size}) to {self.destination}; "
                f"{self.unchanged} already there unchanged")


def transfer_config(part_size: int = PART_SIZE) -> Any:
    """boto3's TransferConfig: files of ``part_size`` bytes or more go up in parts of that size."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size,
                          max_concurrency=4, use_threads=True)


def local_files(folder: Path, destination: S3Uri, excludes: Sequence[str] = ()) -> list[LocalFile]:
    """Every file under ``folder`` (links followed) not matching an exclude glob, with its S3 key.

    A glob matches the path relative to ``folder`` (``*`` also crosses ``/``), as ``aws s3 sync
    --exclude`` does: ``*.log`` leaves out every ``.log`` file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ThaiOCRError(f"{folder}: not a folder")
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not any(fnmatch.fnmatchcase(relative, glob) for glob in excludes):
            files.append(LocalFile(path, destination.prefix + relative, path.stat().st_size))
    return files


def remote_objects(client: Any, destination: S3Uri) -> dict[str, tuple[int, str]]:
    """``key -> (size, ETag without quotes)`` of every object under the destination prefix."""
    found: dict[str, tuple[int, str]] = {}
    with aws_errors(f"listing {destination}"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=destination.bucket,
                                                                Prefix=destination.prefix)
        for page in pages:
            for item in page.get("Contents", []):
                found[item["Key"]] = (item["Size"], item["ETag"].strip('"'))
    return found


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(READ_BLOCK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def multipart_part_size(size: int, part_size: int) -> int:
    """The part size s3transfer really uses for a file (at least 5 MiB, at most 10,000 parts)."""
    from s3transfer.utils import ChunksizeAdjuster

    return ChunksizeAdjuster().adjust_chunksize(part_size, size)


def multipart_etag(path: Path, size: int, part_size: int = PART_SIZE) -> str:
    """The ETag of a multipart upload: the MD5 of the parts' MD5 digests, then ``-<number of parts>``."""
    part = multipart_part_size(size, part_size)
    n_parts = max(1, -(-size // part))
    with open(path, "rb") as stream:
        digests = b"".join(hashlib.md5(stream.read(part), usedforsecurity=False).digest() for _ in range(n_parts))
    return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{n_parts}"


def is_unchanged(file: LocalFile, remote: tuple[int, str] | None, part_size: int = PART_SIZE) -> bool:
    """Same size and the same content as the object's ETag says (its form tells single or multipart)."""
    if remote is None or remote[0] != file.size:
        return False
    etag = remote[1]
    if "-" in etag:
        return multipart_etag(file.path, file.size, part_size) == etag
    return file_md5(file.path) == etag


def plan_upload(client: Any, folder: Path, destination: S3Uri, excludes: Sequence[str] = (),
                part_size: int = PART_SIZE) -> SyncPlan:
    files = local_files(folder, destination, excludes)
    remote = remote_objects(client, destination)
    upload, unchanged = [], []
    for file in files:
        (unchanged if is_unchanged(file, remote.get(file.key), part_size) else upload).append(file)
    return SyncPlan(upload, unchanged)


class _Progress:
    """A byte counter shared by the upload threads, shown as a tqdm bar."""

    def __init__(self, total: int, enabled: bool) -> None:
        from tqdm import tqdm

        self.lock = threading.Lock()
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled,
                        file=sys.stderr, desc="upload", dynamic_ncols=True)

    def __call__(self, n: int) -> None:
        with self.lock:
            self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def _upload_one(client: Any, file: LocalFile, bucket: str, config: Any, progress: Callable[[int], None]) -> None:
    with aws_errors(f"uploading {file.path} to s3://{bucket}/{file.key}"):
        client.upload_file(Filename=str(file.path), Bucket=bucket, Key=file.key, Config=config, Callback=progress)


def upload_files(client: Any, files: list[LocalFile], bucket: str, config: Any, workers: int,
                 progress: Callable[[int], None]) -> None:
    """Upload in parallel; on the first failure, or Ctrl-C, start no more files and report."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="upload")
    futures: list[Future] = [pool.submit(_upload_one, client, f, bucket, config, progress) for f in files]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f in done and f.exception()), None)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        print("upload interrupted: files under way finish; run the same command again to upload the rest",
              file=sys.stderr)
        raise
    pool.shutdown(wait=True, cancel_futures=True)
    if failed is not None:
        finished = sum(1 for f in futures if f.done() and not f.cancelled() and not f.exception())
        raise AwsError(f"{failed.exception()}\nupload stopped: {finished} of {len(files)} files went up; "
                       "run the same command again to upload the rest (finished files are skipped)")


def sync_upload(folder: Path, destination: str | S3Uri, excludes: Sequence[str] = (), *, client: Any = None,
                region: str | None = None, workers: int = DEFAULT_WORKERS, part_size: int = PART_SIZE,
                progress: bool = True) -> SyncResult:
    """Upload what is missing or changed under ``folder`` to ``destination``; see the module docstring."""
    destination = S3Uri.parse(destination) if isinstance(destination, str) else destination
    client = client or Aws.connect(region).client("s3")
    require_bucket(client, destination.bucket)
    plan = plan_upload(client, folder, destination, excludes, part_size)
    bar = _Progress(plan.upload_bytes, progress and bool(plan.upload))
    try:
        upload_files(client, plan.upload, destination.bucket, transfer_config(part_size), workers, bar)
    finally:
        bar.close()
    return SyncResult(destination, len(plan.upload), len(plan.unchanged), plan.upload_bytes)


def require_bucket(client: Any, bucket: str) -> None:
    """Fail early, with a fix, on a bucket that is missing or not ours."""
    try:
        with aws_errors(f"opening bucket {bucket}"):
            client.head_bucket(Bucket=bucket)
    except AwsError as exc:
        if exc.code in ("404", "NoSuchBucket"):
            raise AwsError(f"bucket {bucket!r} does not exist: create it (aws s3 mb s3://{bucket}) "
                           "or check its name and --region", exc.code) from None
        raise


def missing_keys(client: Any, folder: S3Uri, relative_keys: Sequence[str]) -> list[str]:
    """Those of ``relative_keys`` (paths under ``folder``) that S3 does not hold."""
    missing = []
    for key in relative_keys:
        try:
            with aws_errors(f"looking for {folder.child(key)}"):
                client.head_object(Bucket=folder.bucket, Key=folder.child(key).key)
        except AwsError as exc:
            if exc.code not in ("404", "NoSuchKey"):
                raise
            missing.append(key)
    return missing
