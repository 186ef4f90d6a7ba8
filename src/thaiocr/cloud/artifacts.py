"""``thaiocr cloud download``: fetch a job's ``model.tar.gz`` and unpack it safely into a run folder.

The archive holds the run folder the job trained (``best_accuracy.pt``, ``latest.pt``,
``iter_epoch_N.pt``, ``config.yml``, ``curves.png``, ``best_model/``). An archive comes from the
network, so every member is checked before anything is written: no absolute name, no ``..``, no
link that leads outside the folder, nothing but folders, files and links. It is unpacked into a
temporary folder beside the destination, which is renamed into place at the end.
"""

from __future__ import annotations

import posixpath
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from thaiocr.cloud.aws import Aws, AwsError, S3Uri, aws_errors
from thaiocr.cloud.monitor import describe_job
from thaiocr.errors import ThaiOCRError
from thaiocr.runfolder import EPOCH_CHECKPOINT_PREFIX, MODEL_FOLDER, ONNX_NAME

COPY_BLOCK = 1024 * 1024


def _inside(name: str) -> bool:
    """A member name that stays inside the folder it is unpacked into."""
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def _link_target(member: tarfile.TarInfo) -> str:
    """Where a link points, as a name in the archive (a hard link names one; a symlink is relative to its folder)."""
    if member.islnk():
        return posixpath.normpath(member.linkname)
    return posixpath.normpath((PurePosixPath(member.name).parent / member.linkname).as_posix())


def check_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The members, once each is known to be safe; the first unsafe one raises ``ThaiOCRError``."""
    members = archive.getmembers()
    for member in members:
        if not _inside(member.name):
            raise ThaiOCRError(f"unsafe archive: {member.name!r} would be written outside the folder")
        if member.issym() or member.islnk():
            if PurePosixPath(member.linkname).is_absolute() or not _inside(_link_target(member)):
                raise ThaiOCRError(f"unsafe archive: link {member.name!r} -> {member.linkname!r} leads outside "
                                   "the folder")
        elif not (member.isfile() or member.isdir()):
            raise ThaiOCRError(f"unsafe archive: {member.name!r} is neither a file, a folder nor a link")
        if not member.isdir() and not _parts(member):
            raise ThaiOCRError(f"unsafe archive: {member.name!r} names the folder itself, not a file in it")
    _check_files_and_folders(members)
    _check_link_chains(members)
    return members


def _parts(member: tarfile.TarInfo) -> tuple[str, ...]:
    """The member's path below the folder: ``./a//b`` -> ``('a', 'b')``, ``.`` -> ``()``."""
    return PurePosixPath(posixpath.normpath(member.name)).parts


def _check_files_and_folders(members: list[tarfile.TarInfo]) -> None:
    """No name is a file (or link) in one place and a folder, or the folder of another member, in another."""
    files = {_parts(m): m.name for m in members if not m.isdir()}
    for member in members:
        parts = _parts(member)
        for depth in range(1, len(parts) + (1 if member.isdir() else 0)):
            if parts[:depth] in files:
                raise ThaiOCRError(f"unsafe archive: {files[parts[:depth]]!r} is a file, and {member.name!r} "
                                   "needs it to be a folder")


def _check_link_chains(members: list[tarfile.TarInfo]) -> None:
    """No link leads, through other links, back to itself (reading one would never end)."""
    by_name = {posixpath.normpath(m.name): m for m in members}
    for member in members:
        seen: set[str] = set()
        current: tarfile.TarInfo | None = member
        while current is not None and (current.issym() or current.islnk()):
            name = posixpath.normpath(current.name)
            if name in seen:
                raise ThaiOCRError(f"unsafe archive: link {member.name!r} -> {member.linkname!r} is part of a loop")
            seen.add(name)
            current = by_name.get(_link_target(current))


def extract_safely(tar_path: Path, dest: Path) -> None:
    """Unpack a checked archive into ``dest``: folders as folders; files and links as plain files."""
    try:
        with tarfile.open(tar_path, "r:*") as archive:
            for member in check_members(archive):
                target = dest.joinpath(*_parts(member))
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                source = archive.extractfile(member)  # a link reads as the file it points to
                if source is None:
                    raise ThaiOCRError(f"archive: {member.name!r} links to a folder, which is not supported")
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, COPY_BLOCK)
    except (tarfile.TarError, EOFError, KeyError) as exc:
        raise ThaiOCRError(f"{tar_path}: not a readable tar.gz archive ({exc})") from None


def _replace_folder(new: Path, dest: Path) -> None:
    """Put ``new`` at ``dest``; an existing ``dest`` (allowed only with --force) is removed after."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    new.rename(dest)
    if old is not None:
        shutil.rmtree(old)


def model_uri(description: dict[str, Any]) -> S3Uri:
    uri = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if not uri:
        raise ThaiOCRError(f"{description['TrainingJobName']} has no model artifacts "
                           f"(status {description['TrainingJobStatus']})")
    return S3Uri.parse(uri)


def _download(s3: Any, uri: S3Uri, target: Path, progress: bool) -> None:
    from tqdm import tqdm

    try:
        with aws_errors(f"downloading {uri}"):
            size = s3.head_object(Bucket=uri.bucket, Key=uri.key)["ContentLength"]
            with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress,
                      file=sys.stderr, desc="download") as bar:
                s3.download_file(Bucket=uri.bucket, Key=uri.key, Filename=str(target), Callback=bar.update)
    except AwsError as exc:
        if exc.code in ("404", "NoSuchKey"):
            raise AwsError(f"{uri} does not exist: the job saved no model (see `thaiocr cloud status`)",
                           exc.code) from None
        raise


def download_model(aws: Aws, job: str, dest: Path, force: bool = False, progress: bool = True) -> Path:
    """Download and unpack the job's model into ``dest`` (the guide's run-folder layout)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ThaiOCRError(f"{dest} is a file, not a folder")
    if dest.exists() and any(dest.iterdir()) and not force:
        raise ThaiOCRError(f"{dest} exists and is not empty: choose another folder or pass --force to replace it")
    uri = model_uri(describe_job(aws.client("sagemaker"), job))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
        archive, unpacked = Path(tmp) / "model.tar.gz", Path(tmp) / "model"
        _download(aws.client("s3"), uri, archive, progress)
        extract_safely(archive, unpacked)
        _replace_folder(unpacked, dest)
    return dest


def describe_run_folder(folder: Path) -> str:
    """What a downloaded run folder holds, in the guide's terms."""
    names = sorted(p.name for p in folder.iterdir())
    epochs = [n for n in names if n.startswith(EPOCH_CHECKPOINT_PREFIX)]
    shown = [n for n in names if n not in epochs]
    shown += [f"{len(epochs)} x {EPOCH_CHECKPOINT_PREFIX}*.pt"] if epochs else []
    lines = [f"Downloaded to {folder}: {', '.join(shown)}"]
    onnx = folder / MODEL_FOLDER / ONNX_NAME
    if onnx.is_file():
        lines.append(f"Ready to use: thaiocr predict --model {folder / MODEL_FOLDER} IMAGE...")
    else:
        lines.append("⚠️ no best_model/inference.onnx: export one with `thaiocr export "
                     f"{folder / 'best_accuracy.pt'}`")
    return "\n".join(lines)
