"""Network building blocks shared by the recogniser and the detector.

MobileNetV3's block tables (each model strides them its own way), its blocks (convolution with
batch norm and activation, squeeze-excite, inverted residual), building a stage from a recipe's
``{name: ..., **kwargs}`` by a plain-dict registry with the sizes derived from the previous stage,
and two helpers every trainer needs (``count_parameters``, ``inference_mode``).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from thaiocr.errors import ConfigError, did_you_mean

# --- MobileNetV3 --------------------------------------------------------------------------------

# kernel, expanded channels, out channels, squeeze-excite, activation, stride (before `scale`)
LARGE_BLOCKS: tuple[tuple, ...] = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", (2, 1)),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", (2, 1)),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hardswish", 1),
    (3, 200, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 184, 80, False, "hardswish", 1),
    (3, 480, 112, True, "hardswish", 1),
    (3, 672, 112, True, "hardswish", 1),
    (5, 672, 160, True, "hardswish", (2, 1)),
    (5, 960, 160, True, "hardswish", 1),
    (5, 960, 160, True, "hardswish", 1),
)
# Four height-halving stages: the features are one row high before the final pooling at height 32.
SMALL_BLOCKS: tuple[tuple, ...] = (
    (3, 16, 16, True, "relu", (2, 1)),
    (3, 72, 24, False, "relu", (2, 1)),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hardswish", (2, 1)),
    (5, 240, 40, True, "hardswish", 1),
    (5, 240, 40, True, "hardswish", 1),
    (5, 120, 48, True, "hardswish", 1),
    (5, 144, 48, True, "hardswish", 1),
    (5, 288, 96, True, "hardswish", (2, 1)),
    (5, 576, 96, True, "hardswish", 1),
    (5, 576, 96, True, "hardswish", 1),
)
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "hardswish": nn.Hardswish}
STEM_CHANNELS = 16
# Running statistics averaged over ~100 batches rather than torch's default ~10: width-bucketed
# batches differ in how much padding they hold, and a short average made validation accuracy swing
# by up to 15 points between evaluations of the same run.
BN_MOMENTUM = 0.01


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNAct(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int | tuple = 1,
                 groups: int = 1, act: type[nn.Module] | None = nn.Hardswish) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel weights from the mean of the map: reduce, ReLU, expand, hard-sigmoid. ``squeezed``
    (default: a quarter of the channels, rounded by make_divisible) is the reduced width."""

    def __init__(self, channels: int, reduction: int = 4, squeezed: int | None = None) -> None:
        super().__init__()
        squeezed = squeezed or make_divisible(channels / reduction)
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = x.mean((2, 3), keepdim=True)
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(weights))))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand, depthwise k x k, optional squeeze-excite, 1x1 project."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, kernel: int,
                 stride: int | tuple, use_se: bool, act: type[nn.Module]) -> None:
        super().__init__()
        self.expand = ConvBNAct(in_channels, mid_channels, 1, act=act)
        self.depthwise = ConvBNAct(mid_channels, mid_channels, kernel, stride, groups=mid_channels, act=act)
        self.se = SqueezeExcite(mid_channels) if use_se else nn.Identity()
        self.project = ConvBNAct(mid_channels, out_channels, 1, act=None)
        self.out_channels = out_channels
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return x + y if self.use_residual else y


def check_variant(model_name: str, variants: Collection[str], scale: float) -> None:
    """A MobileNetV3's recipe arguments: a known variant, a positive width scale."""
    if model_name not in variants:
        raise ValueError(f"model_name must be one of {sorted(variants)}, got {model_name!r}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")


def mobilenet_layers(in_channels: int, table: Sequence[tuple], strides: Sequence[int | tuple[int, int]],
                     scale: float) -> list[nn.Module]:
    """The stem (a stride-2 convolution) and an inverted-residual block per row of ``table`` with the
    given ``strides``, channel counts scaled by ``scale``; each block tells its ``out_channels``."""
    channels = make_divisible(STEM_CHANNELS * scale)
    layers: list[nn.Module] = [ConvBNAct(in_channels, channels, 3, stride=2)]
    for (kernel, expanded, out, use_se, act, _), stride in zip(table, strides, strict=True):
        block = InvertedResidual(channels, make_divisible(expanded * scale), make_divisible(out * scale), kernel,
                                 stride, use_se, ACTIVATIONS[act])
        layers.append(block)
        channels = block.out_channels
    return layers


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@contextmanager
def inference_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode without gradients for the block; the model's training flag is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield model
    finally:
        model.train(was_training)


# --- stages from a recipe ------------------------------------------------------------------------


def build_stage(section: str, spec: dict, registry: dict[str, type[nn.Module]], **derived: int) -> nn.Module:
    """Instantiate ``spec["name"]`` from ``registry`` with the spec's arguments plus the derived sizes."""
    where = f"Architecture.{section}"
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"{where}: expected a mapping with a 'name' (one of {', '.join(sorted(registry))})")
    name = spec["name"]
    if name not in registry:
        raise ConfigError(f"{where}: unknown name {name!r}{did_you_mean(str(name), registry)}")
    cls = registry[name]
    kwargs = _stage_arguments(where, cls, {k: v for k, v in spec.items() if k != "name"}, derived)
    try:
        return cls(**derived, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"{where} ({name}): {exc}") from None


def _stage_arguments(where: str, cls: type, given: dict, derived: dict) -> dict:
    hints = typing.get_type_hints(cls.__init__)
    accepted = [p for p in inspect.signature(cls).parameters if p not in derived]
    kwargs = {}
    for key, value in given.items():
        if key in derived:
            raise ConfigError(f"{where}: {key!r} is derived (from the previous stage or the alphabet); remove it")
        if key not in accepted:
            raise ConfigError(f"{where}: unknown argument {key!r} for {cls.__name__}{did_you_mean(key, accepted)}")
        kwargs[key] = _coerce(f"{where}.{key}", hints[key], value)
    return kwargs


def _coerce(where: str, hint: typing.Any, value: typing.Any) -> typing.Any:
    """Check a YAML value against the argument's annotation; numbers may arrive as text ('1e-05')."""
    options = typing.get_args(hint) or (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"{where}: a value is required")
    if isinstance(value, bool):
        if bool in options:
            return value
    elif int in options and isinstance(value, int):
        return value
    elif float in options and isinstance(value, int | float | str):
        try:
            return float(value)
        except ValueError:
            pass
    elif str in options and isinstance(value, str):
        return value
    expected = " or ".join(t.__name__ for t in options if t is not type(None))
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
