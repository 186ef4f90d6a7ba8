"""The container side of a job: SageMaker's training contract mapped onto ``thaiocr.train.train``.

The contract, under the root ``/opt/ml`` (``SM_ROOT`` moves it, for tests):

- ``input/config/hyperparameters.json``: string values; ``cloud train`` JSON-encodes each
  (``config.<Section>``, ``overrides``, ``data``, ``dict``; see ``jobs.py``);
- ``input/data/<channel>/``, or ``SM_CHANNEL_<CHANNEL>``: the dataset; the recipe's data folders and
  label files are pointed there;
- ``model/``, or ``SM_MODEL_DIR``: the run folder ends up here; SageMaker uploads it as ``model.tar.gz``;
- ``checkpoints/``: present when the job has a CheckpointConfig (spot training); SageMaker keeps it
  in sync with S3 and restores it when a spot interruption restarts the job, so the run trains
  there and resumes from its ``latest.pt``;
- ``output/failure``: why the job failed, which SageMaker reports as its FailureReason;
- SIGTERM: SageMaker is stopping the job; what the run has written is copied to the model folder.

Run as ``python -m thaiocr.cloud.container`` or ``thaiocr cloud entry``; arguments are ignored
(SageMaker passes ``train``, the training toolkit the hyperparameters again).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from thaiocr.config import Config, load_config
from thaiocr.errors import ThaiOCRError
from thaiocr.fileio import atomic_write_text

if TYPE_CHECKING:
    from thaiocr.train import TrainResult

DEFAULT_ROOT = "/opt/ml"
FAILURE_LIMIT = 1024  # characters SageMaker keeps of the failure file (FailureReason)
TOOLKIT_PREFIX = "sagemaker_"  # the training toolkit's own hyperparameters


@dataclass(frozen=True)
class SageMakerEnv:
    """Where the contract's files are; ``environ`` is ``os.environ`` except in tests."""

    root: Path
    environ: Mapping[str, str]

    @classmethod
    def from_environ(cls, root: Path | None = None, environ: Mapping[str, str] | None = None) -> SageMakerEnv:
        environ = os.environ if environ is None else environ
        return cls(Path(root or environ.get("SM_ROOT", DEFAULT_ROOT)), environ)

    @property
    def hyperparameters_file(self) -> Path:
        return self.root / "input" / "config" / "hyperparameters.json"

    @property
    def model_dir(self) -> Path:
        return Path(self.environ.get("SM_MODEL_DIR") or self.root / "model")

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    def channel(self, name: str) -> Path:
        return Path(self.environ.get(f"SM_CHANNEL_{name.upper()}") or self.root / "input" / "data" / name)

    def run_dir(self) -> Path:
        """The checkpoint folder when the job has one (spot: resumable), else the model folder."""
        return self.checkpoint_dir if self.checkpoint_dir.is_dir() else self.model_dir


# --- hyperparameters ----------------------------------------------------------------------------


def decode_value(text: Any) -> Any:
    """A hyperparameter's value: JSON-decoded when it is JSON, as the training toolkit does; else as is."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_hyperparameters(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThaiOCRError(f"{path}: not found; is this a SageMaker training container (or SM_ROOT set)?") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ThaiOCRError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ThaiOCRError(f"{path}: expected a JSON object of hyperparameters")
    return {key: decode_value(value) for key, value in raw.items() if not key.startswith(TOOLKIT_PREFIX)}


def _relative(value: Any, where: str) -> str:
    """A path inside the channel: relative, without ``..``."""
    if not isinstance(value, str) or not value:
        raise ThaiOCRError(f"hyperparameter data: {where} must be a relative path, got {value!r}")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ThaiOCRError(f"hyperparameter data: {where} {value!r} leaves the dataset folder")
    return value


def _layout(data: Any) -> tuple[str, dict[str, dict]]:
    if not isinstance(data, dict) or not isinstance(data.get("channel"), str) or "Train" not in data:
        raise ThaiOCRError("hyperparameter data: expected {\"channel\": ..., \"Train\": {...}} as `cloud train` "
                           f"writes it, got {data!r}")
    layout = {}
    for split in ("Train", "Eval"):
        if split in data:
            entry = data[split] if isinstance(data[split], dict) else {}
            labels = entry.get("label_file_list")
            if not isinstance(labels, list) or not labels:
                raise ThaiOCRError(f"hyperparameter data: {split}.label_file_list must be a list of paths")
            layout[split] = {
                "data_dir": _relative(entry.get("data_dir"), f"{split}.data_dir"),
                "label_file_list": [_relative(p, f"{split}.label_file_list") for p in labels],
            }
    return data["channel"], layout


@dataclass(frozen=True)
class JobRecipe:
    """The recipe ``cloud train`` sent: YAML sections, ``-o`` overrides, data layout, dict text."""

    sections: dict[str, Any]
    overrides: list[str]
    channel: str
    layout: dict[str, dict]
    dict_text: str | None = None

    @classmethod
    def from_hyperparameters(cls, values: dict[str, Any]) -> JobRecipe:
        sections = {key.removeprefix("config."): value for key, value in values.items() if key.startswith("config.")}
        if not sections:
            raise ThaiOCRError("the hyperparameters hold no recipe (config.<Section> entries): "
                               "start jobs with `thaiocr cloud train`")
        if "data" not in values:
            raise ThaiOCRError("the hyperparameters lack 'data' (the dataset layout `thaiocr cloud train` sends)")
        overrides = values.get("overrides", [])
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ThaiOCRError(f"hyperparameter overrides: expected a JSON list of KEY=VALUE strings, "
                               f"got {overrides!r}")
        dict_text = values.get("dict")
        if dict_text is not None and not isinstance(dict_text, str):
            raise ThaiOCRError("hyperparameter dict: expected the dict file's text")
        channel, layout = _layout(values["data"])
        return cls(sections, overrides, channel, layout, dict_text)


# --- the recipe inside the container ------------------------------------------------------------


def _set(key: str, value: Any) -> str:
    """An override whose value YAML reads back exactly (JSON is YAML)."""
    return f"{key}={json.dumps(value)}"


def job_overrides(recipe: JobRecipe, env: SageMakerEnv, dict_path: Path | None, use_gpu: bool) -> list[str]:
    """What the container sets over the recipe: data paths, run folder, dict, device."""
    channel = env.channel(recipe.channel)
    if not channel.is_dir():
        raise ThaiOCRError(f"the data channel {recipe.channel!r} is not at {channel}: was the job given an "
                           f"input channel named {recipe.channel!r}?")
    items = [_set("Global.save_model_dir", str(env.run_dir())), _set("Global.save_inference_dir", None),
             _set("Global.use_gpu", use_gpu)]
    if dict_path is not None:
        items.append(_set("Global.character_dict_path", str(dict_path)))
    for split, paths in recipe.layout.items():
        items.append(_set(f"{split}.dataset.data_dir", str(channel / paths["data_dir"])))
        items.append(_set(f"{split}.dataset.label_file_list", [str(channel / p) for p in paths["label_file_list"]]))
    return items


def job_config(recipe: JobRecipe, env: SageMakerEnv, workdir: Path, use_gpu: bool) -> Config:
    """The recipe rebuilt in ``workdir`` and loaded through the usual loader (so it is validated alike)."""
    path = workdir / "recipe.yml"
    atomic_write_text(path, yaml.safe_dump(recipe.sections, allow_unicode=True, sort_keys=False))
    dict_path = None
    if recipe.dict_text is not None:
        dict_path = atomic_write_text(workdir / "dict.txt", recipe.dict_text)
    return load_config(path, [*recipe.overrides, *job_overrides(recipe, env, dict_path, use_gpu)])


def publish(run_dir: Path, model_dir: Path) -> None:
    """Copy the run folder into the model folder (when it trained elsewhere, i.e. in the checkpoints).

    Hidden files and temp files (an interrupted checkpoint write's ``.latest.pt.*.tmp``) stay out
    of the model archive."""
    if run_dir.resolve() == model_dir.resolve():
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    for item in run_dir.iterdir():
        if _unpublished(item.name):
            continue
        if item.is_dir():
            shutil.copytree(item, model_dir / item.name, dirs_exist_ok=True,
                            ignore=lambda _, names: [name for name in names if _unpublished(name)])
        else:
            shutil.copy2(item, model_dir / item.name)


def _unpublished(name: str) -> bool:
    return name.startswith(".") or name.endswith(".tmp")


def run_job(env: SageMakerEnv, progress: bool = True, use_gpu: bool | None = None) -> TrainResult:
    """Train the job's recipe as ``thaiocr train`` would (resuming from ``latest.pt``), then publish it."""
    from thaiocr.train import train

    recipe = JobRecipe.from_hyperparameters(read_hyperparameters(env.hyperparameters_file))
    if use_gpu is None:
        import torch

        use_gpu = torch.cuda.is_available()
    join_instances(os.environ)
    with tempfile.TemporaryDirectory(prefix="thaiocr-job-") as workdir:
        config = job_config(recipe, env, Path(workdir), use_gpu)
        result = train(config, resume=True, progress=progress)
    if result.onnx_path is not None:  # the first instance of a multi-instance job writes the model
        publish(Path(config.Global.save_model_dir), env.model_dir)
    return result


def join_instances(environ: MutableMapping[str, str]) -> None:
    """On a multi-instance job, set torch's distributed variables from SageMaker's host list (DDP)."""
    from thaiocr.distributed import sagemaker_environment, sagemaker_hosts

    hosts = sagemaker_hosts(environ)
    if hosts is not None:
        environ.update(sagemaker_environment(*hosts))


def write_failure(env: SageMakerEnv, message: str) -> None:
    atomic_write_text(env.failure_file, message[:FAILURE_LIMIT])


class JobStopped(Exception):
    """SIGTERM: SageMaker is stopping the job (StopTrainingJob, or a time limit reached)."""


def _stop(signum: int, frame: object) -> None:
    raise JobStopped


def _save_when_stopped(env: SageMakerEnv) -> int:
    """Publish what the run has written so far (its writes are atomic) so that the stop keeps it."""
    if env.run_dir().is_dir():
        publish(env.run_dir(), env.model_dir)
    print(f"thaiocr: the job was stopped; the run so far is in {env.model_dir}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None, progress: bool = True) -> int:
    """Run the job; on failure write the reason where SageMaker reads it. ``argv`` is ignored."""
    env = SageMakerEnv.from_environ()
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        result = run_job(env, progress=progress)
    except JobStopped:
        return _save_when_stopped(env)
    except ThaiOCRError as exc:
        print(f"thaiocr: error: {exc}", file=sys.stderr)
        write_failure(env, str(exc))
        return 2
    except Exception as exc:  # any other failure must still reach the FailureReason
        traceback.print_exc()
        write_failure(env, f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    best = f"best {result.best}" if result.best else "no validation split"
    print(f"Finished {result.steps} steps in {result.seconds:.0f} s; {best}; saved to {env.model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
