"""PaddleOCR-style YAML recipes -> typed, frozen dataclasses.

The schema accepts the guide's ``numbers_config.yml`` as written. Unknown keys are rejected with
a "did you mean"; relative paths in the file resolve against the file's folder, those given as
``-o Key.sub=value`` overrides against the current directory. No torch here: ``--help`` and
``data check`` stay fast.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from thaiocr.errors import ConfigError, did_you_mean
from thaiocr.preprocess import Preprocess
from thaiocr.shipped import is_shipped_name, pretrained_folder
from thaiocr.synth.settings import check_synth_section

# --- the schema ---------------------------------------------------------------------------------
# Field names are the YAML keys. Fields marked PATH are resolved against the config file's folder.

PATH = {"path": True}
DEFAULT_IMAGE_SHAPE = (3, 32, 128)  # PaddleOCR's RecResizeImg default, and the guide's


@dataclass(frozen=True)
class GlobalConfig:
    use_gpu: bool = False
    epoch_num: int = 50
    log_smooth_window: int = 20
    print_batch_step: int = 10
    save_model_dir: Path = field(default=Path("output/rec"), metadata=PATH)
    save_epoch_step: int = 5
    # PaddleOCR allows an int (every N steps) or [start, every]; both are kept as written.
    eval_batch_step: int | list[int] = 100
    cal_metric_during_train: bool = True
    # A dict file, or the name of a built-in dict ("digits", "thai_full").
    character_dict_path: str = "digits"
    character_type: str = "thai"
    max_text_length: int = 25
    infer_mode: bool = False
    use_space_char: bool = False
    save_inference_dir: Path | None = field(default=None, metadata=PATH)
    # PaddleOCR keys: a checkpoint to resume from, weights to start from, a test image.
    checkpoints: Path | None = field(default=None, metadata=PATH)
    pretrained_model: Path | None = field(default=None, metadata=PATH)  # or a name in thaiocr.shipped
    infer_img: Path | None = field(default=None, metadata=PATH)
    use_visualdl: bool = False
    distributed: bool = False
    # thaiocr's own keys.
    seed: int = 42
    num_threads: int | None = None
    channels_last: bool = True

    @property
    def eval_every(self) -> tuple[int, int]:
        """``(start_step, every_n_steps)`` from either form of ``eval_batch_step``."""
        step = self.eval_batch_step
        if isinstance(step, int):
            return 0, step
        if len(step) != 2:
            raise ConfigError(f"Global.eval_batch_step must be N or [start, N], got {step}")
        return step[0], step[1]


@dataclass(frozen=True)
class ArchitectureConfig:
    model_type: str = "rec"
    algorithm: str = "CRNN"
    Transform: dict | None = None
    # Each stage is {name: ..., **kwargs}; model.py's registries check the names and arguments.
    Backbone: dict = field(default_factory=lambda: {"name": "MobileNetV3"})
    Neck: dict = field(default_factory=lambda: {"name": "SequenceEncoder", "encoder_type": "rnn"})
    Head: dict = field(default_factory=lambda: {"name": "CTCHead"})


@dataclass(frozen=True)
class LossConfig:
    name: str = "CTCLoss"


@dataclass(frozen=True)
class LrConfig:
    name: str = "Cosine"
    learning_rate: float = 0.001
    warmup_epoch: float = 0.0


@dataclass(frozen=True)
class RegularizerConfig:
    name: str = "L2"
    factor: float = 0.0


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "Adam"
    beta1: float = 0.9
    beta2: float = 0.999
    lr: LrConfig = field(default_factory=LrConfig)
    regularizer: RegularizerConfig | None = None
    clip_norm: float | None = None


@dataclass(frozen=True)
class PostProcessConfig:
    name: str = "CTCLabelDecode"


@dataclass(frozen=True)
class MetricConfig:
    name: str = "RecMetric"
    main_indicator: str = "acc"


@dataclass(frozen=True)
class SynthConfig:
    """thaiocr: lines rendered while training (``dataset.name: SynthDataSet``); nothing is written.

    In ``Train`` the font families ``val_fonts`` picks are never rendered; in ``Eval`` only they
    are, so the two sections of one recipe agree when they carry the same value (the default).
    """

    samples_per_epoch: int = 20000
    # a text source or weighted mix (see textsource.py): "numbers", "words:2,numbers:1",
    # {words: 2, numbers: 1} or {mine: {source: corpus, path: lines.txt, weight: 1}}
    source: str | dict = "numbers"
    val_fonts: int | list[str] = 3  # a count of families, or family/face names
    fonts_dir: Path | None = field(default=None, metadata=PATH)
    seed: int | None = None  # None: Global.seed
    effects: dict = field(default_factory=dict)  # effect settings (see effectsettings.py), defaults when empty
    # named shares of the mix, each with its own print style, source and effects (see looks.py)
    looks: dict = field(default_factory=dict)


DATASET_NAMES = ("SimpleDataSet", "SynthDataSet")


@dataclass(frozen=True)
class DatasetConfig:
    name: str = "SimpleDataSet"
    data_dir: Path = field(default=Path("."), metadata=PATH)
    label_file_list: list[Path] = field(default_factory=list, metadata=PATH)
    ratio_list: list[float] | None = None
    delimiter: str = "\t"
    transforms: list[dict] = field(default_factory=list)
    # thaiocr: what to do with bad lines; "strict" stops with a report, "skip" leaves them out.
    on_bad_data: str = "strict"
    # thaiocr: SynthDataSet's settings; its label files (optional) are mixed in, each by its ratio.
    synth: SynthConfig | None = None

    @property
    def is_synthetic(self) -> bool:
        return self.name == "SynthDataSet"


@dataclass(frozen=True)
class LoaderConfig:
    shuffle: bool = False
    batch_size_per_card: int = 32
    drop_last: bool = False
    num_workers: int = 0


@dataclass(frozen=True)
class SplitConfig:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)


@dataclass(frozen=True)
class Config:
    Global: GlobalConfig = field(default_factory=GlobalConfig)
    Architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    Loss: LossConfig = field(default_factory=LossConfig)
    Optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    PostProcess: PostProcessConfig = field(default_factory=PostProcessConfig)
    Metric: MetricConfig = field(default_factory=MetricConfig)
    Train: SplitConfig = field(default_factory=SplitConfig)
    Eval: SplitConfig | None = None
    source: Path | None = field(default=None, compare=False)

    def has_transform(self, split: str, name: str) -> bool:
        section = self.Train if split == "Train" else self.Eval
        return any(name in transform for transform in (section.dataset.transforms if section else []))

    @property
    def preprocess(self) -> Preprocess:
        """The input geometry, read from the ``RecResizeImg`` transform of the training split."""
        return Preprocess.from_image_shape(self.image_shape("Train"))

    def image_shape(self, split: str) -> list[int]:
        section = self.Train if split == "Train" else self.Eval
        for transform in section.dataset.transforms if section else []:
            if "RecResizeImg" in transform:
                return list((transform["RecResizeImg"] or {}).get("image_shape", DEFAULT_IMAGE_SHAPE))
        return list(DEFAULT_IMAGE_SHAPE)

    def to_dict(self) -> dict:
        """The resolved recipe as plain YAML-ready data (paths as strings)."""
        return plain_data({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "source"})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)


# --- transforms ---------------------------------------------------------------------------------
# The pipeline itself is fixed (decode -> encode label -> resize/normalise -> batch); the list is
# checked so that a recipe cannot ask for something that would silently not happen.
KNOWN_TRANSFORMS = {
    "DecodeImage": {"img_mode", "channel_first"},
    "CTCLabelEncode": set(),
    "RecResizeImg": {"image_shape"},
    "RecAug": set(),  # per-epoch width stretch and stroke weight changes (augment.py); training only
    "KeepKeys": {"keep_keys"},
}


def _check_transforms(transforms: list, where: str) -> None:
    for i, item in enumerate(transforms):
        here = f"{where}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(f"{here}: each transform is a mapping with one name, got {item!r}")
        (name, args), = item.items()
        if name not in KNOWN_TRANSFORMS:
            raise ConfigError(f"{here}: unknown transform {name!r}{did_you_mean(name, KNOWN_TRANSFORMS)}")
        if name == "DecodeImage" and (args or {}).get("img_mode", "BGR") != "BGR":
            raise ConfigError(f"{here}: only img_mode BGR is supported (the PaddleOCR contract)")
        for key in args or {}:
            if key not in KNOWN_TRANSFORMS[name]:
                allowed = KNOWN_TRANSFORMS[name]
                raise ConfigError(f"{here}.{name}: unknown key {key!r}{did_you_mean(key, allowed)}")


# --- loading ------------------------------------------------------------------------------------


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a recipe, apply ``Key.sub=value`` overrides, validate, resolve paths."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    overridden: set[str] = set()
    for item in overrides or []:
        overridden.add(apply_override(raw, item))
    return build_config(raw, source=path, overridden=overridden)


def build_config(raw: dict, source: Path | None = None, overridden: set[str] | None = None) -> Config:
    """Validate a recipe held as plain data; ``source`` anchors its relative paths."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source or 'config'}: the top level must be a mapping of sections")
    resolver = PathResolver(source.parent if source else Path.cwd(), overridden or set())
    config = convert_section(Config, {**raw, "source": source}, "", resolver)
    _check_transforms(config.Train.dataset.transforms, "Train.dataset.transforms")
    if config.Eval:
        _check_transforms(config.Eval.dataset.transforms, "Eval.dataset.transforms")
        if config.image_shape("Eval") != config.image_shape("Train"):
            raise ConfigError(
                f"Eval image_shape {config.image_shape('Eval')} differs from Train "
                f"{config.image_shape('Train')}: a model has one input height and width limit"
            )
    _check_values(config, overridden or set())
    _check_synth_sections(config)
    return config


def _check_synth_sections(config: Config) -> None:
    """Effects, text sources and looks are checked here, not first when training renders a line."""
    for name, section in (("Train", config.Train), ("Eval", config.Eval)):
        synth = section.dataset.synth if section else None
        if synth is not None:
            check_synth_section(synth.source, synth.effects, synth.looks, f"{name}.dataset.synth")


def _check_values(config: Config, overridden: set[str]) -> None:
    """Cross-field rules; a broken one is blamed on the ``-o`` override that set it, else on the file."""
    g = config.Global
    checks = [  # (holds, key, rule)
        (config.Architecture.model_type == "rec", "Architecture.model_type", "must be 'rec'"),
        (config.Architecture.algorithm == "CRNN", "Architecture.algorithm", "must be 'CRNN'"),
        (config.Loss.name == "CTCLoss", "Loss.name", "must be 'CTCLoss'"),
        (config.Optimizer.name in ("Adam", "AdamW"), "Optimizer.name", "must be 'Adam' or 'AdamW'"),
        (config.Optimizer.lr.name in ("Cosine", "Const"), "Optimizer.lr.name", "must be 'Cosine' or 'Const'"),
        (config.PostProcess.name == "CTCLabelDecode", "PostProcess.name", "must be 'CTCLabelDecode'"),
        (g.epoch_num > 0, "Global.epoch_num", "must be positive"),
        (g.max_text_length > 0, "Global.max_text_length", "must be positive"),
        (g.save_epoch_step > 0, "Global.save_epoch_step", "must be positive"),
        (g.eval_every[1] > 0, "Global.eval_batch_step", "must be positive"),
        (config.Train.loader.batch_size_per_card > 0, "Train.loader.batch_size_per_card", "must be positive"),
    ]
    for name, section in (("Train", config.Train), ("Eval", config.Eval)):
        if section:
            dataset = section.dataset
            key = f"{name}.dataset"
            checks += [
                (dataset.on_bad_data in ("strict", "skip"), f"{key}.on_bad_data", "must be 'strict' or 'skip'"),
                (dataset.name in DATASET_NAMES, f"{key}.name", f"must be one of {', '.join(DATASET_NAMES)}"),
                (dataset.synth is None or dataset.is_synthetic, f"{key}.synth", "needs name: SynthDataSet"),
                (dataset.synth is None or dataset.synth.samples_per_epoch > 0, f"{key}.synth.samples_per_epoch",
                 "must be positive"),
            ]
    for ok, key, rule in checks:
        if not ok:
            set_by = next((o for o in sorted(overridden) if key == o or key.startswith(o + ".")), None)
            where = f"override {set_by}" if set_by else str(config.source or "config")
            raise ConfigError(f"{where}: {key} {rule}")
    _ = config.preprocess  # validates image_shape


def read_yaml_mapping(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (Global, Architecture, ...)")
    return data


def apply_override(raw: dict, item: str) -> str:
    """Set ``A.b.c=value`` (value parsed as YAML) in ``raw``; returns the dotted key."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r}: expected Key.sub=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise ConfigError(f"override {item!r}: value is not valid YAML") from None
    parts = key.strip().split(".")
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts[: depth + 1])]
            continue
        if not isinstance(node.get(part), dict | list):
            node[part] = {}
        node = node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, parts)] = parsed
    else:
        node[last] = parsed
    return key.strip()


def _list_index(node: list, part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {'.'.join(parts)}: {part!r} is not an index of a {len(node)}-item list")
    return int(part)


# --- conversion ---------------------------------------------------------------------------------


@dataclass
class PathResolver:
    base: Path
    overridden: set[str]

    def __call__(self, value: str, key: str) -> Path:
        p = Path(value).expanduser()
        if p.is_absolute():
            return p
        from_cli = any(key == o or key.startswith((o + ".", o + "[")) for o in self.overridden)
        return (Path.cwd() if from_cli else self.base) / p


def convert_section(cls: type, data: Any, where: str, resolve: PathResolver) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        here = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise ConfigError(f"unknown config key {here!r}{did_you_mean(str(key), fields)}")
        if key == "source":
            kwargs[key] = value
            continue
        is_path = fields[key].metadata.get("path", False)
        kwargs[key] = _coerce(hints[key], value, here, resolve, is_path)
    if cls is GlobalConfig and "character_dict_path" in kwargs:
        kwargs["character_dict_path"] = _resolve_dict_path(kwargs["character_dict_path"], resolve)
    if cls is GlobalConfig and is_shipped_name(data.get("pretrained_model")):
        kwargs["pretrained_model"] = pretrained_folder(data["pretrained_model"])
    return cls(**kwargs)


def _resolve_dict_path(value: str, resolve: PathResolver) -> str:
    from thaiocr.charset import BUILTIN_DICTS

    if value in BUILTIN_DICTS:
        return value
    return str(resolve(value, "Global.character_dict_path"))


def _coerce(hint: Any, value: Any, where: str, resolve: PathResolver, is_path: bool) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, where, resolve, is_path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1])
    if dataclasses.is_dataclass(hint):
        return convert_section(hint, value, where, resolve)
    if origin is list:
        items = value if isinstance(value, list) else None
        if items is None:
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(args[0], v, f"{where}[{i}]", resolve, is_path) for i, v in enumerate(items)]
    if hint is Path:
        if not isinstance(value, str | Path) or str(value) == "":
            raise ConfigError(f"{where}: expected a path, got {value!r}")
        return resolve(str(value), where) if is_path else Path(value)
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return copy.deepcopy(value)
    return _scalar(hint, value, where)


def _scalar(hint: type, value: Any, where: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        # YAML 1.1 reads "1e-05" (no dot) as a string; PaddleOCR configs are full of those.
        try:
            if not isinstance(value, bool):
                return float(value)
        except (TypeError, ValueError):
            pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected text, got {value!r}")
    raise ConfigError(f"{where}: unsupported value {value!r}")


def plain_data(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: plain_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_data(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
