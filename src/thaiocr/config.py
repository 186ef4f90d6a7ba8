"""Recognition recipes: PaddleOCR-style YAML -> typed, frozen dataclasses.

The schema accepts the guide's ``numbers_config.yml`` as written. Reading, overrides, unknown-key
messages and path resolution are the kernel's (:mod:`thaiocr.kernel.recipe`); this module holds the
recognition sections and the rules between them. No torch here: ``--help`` and ``data check`` stay
fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thaiocr.errors import ConfigError, did_you_mean
from thaiocr.kernel.recipe import (
    PATH,
    LoaderConfig,
    OptimizerConfig,
    PathResolver,
    Recipe,
    convert_recipe,
    eval_every,
    read_recipe,
    recipe_class,
)
from thaiocr.preprocess import Preprocess
from thaiocr.shipped import is_pretrained_name, pretrained_folder
from thaiocr.synth.settings import check_synth_section

# --- the schema ---------------------------------------------------------------------------------

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
    pretrained_model: Path | None = field(default=None, metadata=PATH)  # or a name in thaiocr.shipped (ppocrv4 too)
    infer_img: Path | None = field(default=None, metadata=PATH)
    use_visualdl: bool = False
    distributed: bool = False
    # thaiocr's own keys.
    seed: int = 42
    num_threads: int | None = None
    channels_last: bool = True

    @property
    def eval_every(self) -> tuple[int, int]:
        return eval_every(self.eval_batch_step)

    @staticmethod
    def after_conversion(kwargs: dict, data: dict, resolve: PathResolver) -> dict:
        """A built-in alphabet's name stays a name, a pretrained model's name becomes its path."""
        if "character_dict_path" in kwargs:
            kwargs["character_dict_path"] = _resolve_dict_path(kwargs["character_dict_path"], resolve)
        if is_pretrained_name(data.get("pretrained_model")):
            kwargs["pretrained_model"] = pretrained_folder(data["pretrained_model"])
        return kwargs


def _resolve_dict_path(value: str, resolve: PathResolver) -> str:
    from thaiocr.charset import BUILTIN_DICTS

    if value in BUILTIN_DICTS:
        return value
    return str(resolve(value, "Global.character_dict_path"))


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
    # a text source or weighted mix (see synth/textsource.py): "numbers", "words:2,numbers:1",
    # {words: 2, numbers: 1} or {mine: {source: corpus, path: lines.txt, weight: 1}}
    source: str | dict = "numbers"
    val_fonts: int | list[str] = 3  # a count of families, or family/face names
    fonts_dir: Path | None = field(default=None, metadata=PATH)
    seed: int | None = None  # None: Global.seed
    effects: dict = field(default_factory=dict)  # effect settings (see synth/effectsettings.py), defaults when empty
    # named shares of the mix, each with its own print style, source and effects (see synth/looks.py)
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
class SplitConfig:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)


class RecRecipe(Recipe):
    """What a recognition recipe tells besides its sections: the transforms and input geometry."""

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


Config = recipe_class("Config", {
    "Global": GlobalConfig, "Architecture": ArchitectureConfig, "Loss": LossConfig, "Optimizer": OptimizerConfig,
    "PostProcess": PostProcessConfig, "Metric": MetricConfig, "Train": SplitConfig}, RecRecipe)


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
    raw, overridden = read_recipe(Path(path), overrides)
    return build_config(raw, source=Path(path), overridden=overridden)


def build_config(raw: dict, source: Path | None = None, overridden: set[str] | None = None) -> Config:
    """Validate a recipe held as plain data; ``source`` anchors its relative paths."""
    config = convert_recipe(Config, raw, source, overridden)
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


