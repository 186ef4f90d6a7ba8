"""Text-detector recipes (``configs/det/*.yml``): PaddleOCR-style YAML -> typed, frozen dataclasses.

The sections are those of a PaddleOCR det recipe (Global, Architecture, Loss, Optimizer,
PostProcess, Metric, Train, Eval) with the keys thaiocr's DB trainer uses; loading, overrides,
unknown-key messages and path resolution are the kernel's (:mod:`thaiocr.kernel.recipe`). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from thaiocr.errors import ConfigError
from thaiocr.kernel.recipe import (
    PATH,
    LoaderConfig,
    OptimizerConfig,
    convert_recipe,
    eval_every,
    read_recipe,
    recipe_class,
)


@dataclass(frozen=True)
class DetGlobalConfig:
    use_gpu: bool = False
    epoch_num: int = 100  # an epoch is one random crop of every training page
    log_smooth_window: int = 20
    print_batch_step: int = 10
    save_model_dir: Path = field(default=Path("output/det"), metadata=PATH)
    eval_batch_step: int | list[int] = 100  # every N steps, or [start, N]
    checkpoints: Path | None = field(default=None, metadata=PATH)  # resume from this instead of latest.pt
    seed: int = 42
    num_threads: int | None = None

    @property
    def eval_every(self) -> tuple[int, int]:
        return eval_every(self.eval_batch_step)


@dataclass(frozen=True)
class DetArchitectureConfig:
    model_type: str = "det"
    algorithm: str = "DB"
    # Each stage is {name: ..., **kwargs}; det/model.py's registries check the names and arguments.
    Backbone: dict = field(default_factory=lambda: {"name": "MobileNetV3", "model_name": "large", "scale": 0.5})
    Neck: dict = field(default_factory=lambda: {"name": "DBFPN", "out_channels": 96})
    Head: dict = field(default_factory=lambda: {"name": "DBHead", "k": 50})


@dataclass(frozen=True)
class DBLossConfig:
    """``alpha * BCE(probability, OHEM) + dice(binary) + beta * L1(threshold)``, the DB paper's weights."""

    name: str = "DBLoss"
    alpha: float = 5.0
    beta: float = 10.0
    ohem_ratio: float = 3.0  # negatives kept per positive pixel, hardest first


@dataclass(frozen=True)
class DBPostProcessConfig:
    """Inference settings (detect.DBSettings); ``unclip_ratio`` also sets how far targets shrink."""

    name: str = "DBPostProcess"
    limit_side_len: int = 960
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    min_size: int = 3
    max_candidates: int = 1000


@dataclass(frozen=True)
class DetDatasetConfig:
    """Pages and their line boxes in PaddleOCR det label files (image paths relative to the file).

    The rest applies to training only: each sample is the page scaled by a random factor within
    ``scale`` and a random ``crop_size`` (width, height) window of it; boxes shorter than
    ``min_text_size`` pixels after scaling are left out of the loss; the threshold map runs from
    ``thresh_min`` at the box's edge's distance D to ``thresh_max`` on the edge.
    """

    name: str = "DetDataSet"
    label_file_list: list[Path] = field(default_factory=list, metadata=PATH)
    crop_size: list[int] = field(default_factory=lambda: [640, 640])
    scale: list[float] = field(default_factory=lambda: [0.4, 0.8])
    min_text_size: int = 6
    thresh_min: float = 0.3
    thresh_max: float = 0.7


@dataclass(frozen=True)
class DetSplitConfig:
    """A split; Eval reads its pages whole, one at a time, so only Train uses ``loader``."""

    dataset: DetDatasetConfig = field(default_factory=DetDatasetConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)


@dataclass(frozen=True)
class DetMetricConfig:
    """What a checkpoint is judged by: H-mean of precision and recall at IoU 0.5 (``det.metrics``)."""

    name: str = "DetMetric"
    main_indicator: str = "hmean"


DetConfig = recipe_class("DetConfig", {
    "Global": DetGlobalConfig, "Architecture": DetArchitectureConfig, "Loss": DBLossConfig,
    "Optimizer": OptimizerConfig, "PostProcess": DBPostProcessConfig, "Metric": DetMetricConfig,
    "Train": DetSplitConfig})


def load_det_config(path: str | Path, overrides: list[str] | None = None) -> DetConfig:
    """Read a det recipe, apply ``Key.sub=value`` overrides, validate, resolve paths."""
    raw, overridden = read_recipe(Path(path), overrides)
    return build_det_config(raw, source=Path(path), overridden=overridden)


def build_det_config(raw: dict, source: Path | None = None, overridden: set[str] | None = None) -> DetConfig:
    """Validate a det recipe held as plain data; ``source`` anchors its relative paths."""
    config = convert_recipe(DetConfig, raw, source, overridden)
    for ok, message in _checks(config):
        if not ok:
            raise ConfigError(f"{config.source or 'config'}: {message}")
    return config


def _checks(config: DetConfig) -> list[tuple[bool, str]]:
    g, train, post = config.Global, config.Train.dataset, config.PostProcess
    return [
        (config.Architecture.model_type == "det", "Architecture.model_type must be 'det'"),
        (config.Architecture.algorithm == "DB", "Architecture.algorithm must be 'DB'"),
        (config.Loss.name == "DBLoss", "Loss.name must be 'DBLoss'"),
        (config.Loss.ohem_ratio > 0, "Loss.ohem_ratio must be positive"),
        (config.Optimizer.name in ("Adam", "AdamW"), "Optimizer.name must be 'Adam' or 'AdamW'"),
        (config.Optimizer.lr.name in ("Cosine", "Const"), "Optimizer.lr.name must be 'Cosine' or 'Const'"),
        (post.name == "DBPostProcess", "PostProcess.name must be 'DBPostProcess'"),
        (post.unclip_ratio > 0, "PostProcess.unclip_ratio must be positive"),
        (post.limit_side_len >= 32, "PostProcess.limit_side_len must be at least 32"),
        (config.Metric.name == "DetMetric", "Metric.name must be 'DetMetric'"),
        (config.Metric.main_indicator == "hmean", "Metric.main_indicator must be 'hmean'"),
        (g.epoch_num > 0, "Global.epoch_num must be positive"),
        (g.eval_every[1] > 0, "Global.eval_batch_step must be positive"),
        (train.name == "DetDataSet" and (config.Eval is None or config.Eval.dataset.name == "DetDataSet"),
         "dataset.name must be 'DetDataSet'"),
        (bool(train.label_file_list), "Train.dataset.label_file_list must name at least one det label file"),
        (len(train.crop_size) == 2 and all(s > 0 and s % 32 == 0 for s in train.crop_size),
         "Train.dataset.crop_size must be [width, height], multiples of 32"),
        (len(train.scale) == 2 and 0 < train.scale[0] <= train.scale[1], "Train.dataset.scale must be [low, high] > 0"),
        (0 <= train.thresh_min < train.thresh_max <= 1, "Train.dataset: need 0 <= thresh_min < thresh_max <= 1"),
        (config.Train.loader.batch_size_per_card > 0, "Train.loader.batch_size_per_card must be positive"),
        (config.Eval is None or bool(config.Eval.dataset.label_file_list),
         "Eval.dataset.label_file_list must name at least one det label file"),
    ]
