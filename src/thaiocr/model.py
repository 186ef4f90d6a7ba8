"""The CRNN recogniser: backbone (VGG, MobileNetV3, PPLCNetV3) -> sequence encoder -> CTC head.

Stages are looked up by name in plain-dict registries and wired through their ``out_channels``,
so a recipe names each stage and its own settings, never a size that can be derived. The model
knows nothing of the alphabet: ``build_model`` is told the number of classes.

The backbone follows PaddleOCR's text-recognition MobileNetV3: the first convolution has stride 2
and three (large) or four (small) stages stride (2, 1), so the height shrinks 16 or 32 times and the
width 2 times; the final pooling takes the maximum over the remaining height and halves the width.
For the large variant at height 32 this is PaddleOCR's 2x2 max-pool; other heights (48, 64) work too, no
feature row is left out.
A ``W``-pixel-wide input gives ``ceil(W / 2) // 2`` time steps (``W // 4`` for even ``W``); the VGG
backbone gives ``W // 4``, or ``ceil(W / s) // 2`` with a first convolution of stride ``s``.
PP-OCRv4's backbone and encoder (``PPLCNetV3``, ``SVTREncoder``: thaiocr.kernel.lcnet) give ``W // 8``.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from thaiocr.config import ArchitectureConfig
from thaiocr.errors import ConfigError
from thaiocr.kernel.blocks import (
    LARGE_BLOCKS,
    SMALL_BLOCKS,
    ConvBNAct,
    build_stage,
    check_variant,
    make_divisible,
    mobilenet_layers,
)
from thaiocr.kernel.lcnet import PPLCNetV3, SVTREncoder

# --- backbone -----------------------------------------------------------------------------------

VARIANTS = {"large": (LARGE_BLOCKS, 960), "small": (SMALL_BLOCKS, 576)}


class MobileNetV3(nn.Module):
    """``[N, 3, H, W]`` images -> ``[N, C, 1, W/4]`` features."""

    def __init__(self, in_channels: int = 3, model_name: str = "small", scale: float = 0.5) -> None:
        super().__init__()
        check_variant(model_name, VARIANTS, scale)
        table, last_channels = VARIANTS[model_name]
        layers = mobilenet_layers(in_channels, table, [row[5] for row in table], scale)
        self.out_channels = make_divisible(last_channels * scale)
        layers.append(ConvBNAct(layers[-1].out_channels, self.out_channels, 1))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).amax(dim=2, keepdim=True)
        return F.max_pool2d(x, kernel_size=(1, 2))


class VGG(nn.Module):
    """``[N, 3, H, W]`` -> ``[N, 8 * width, 1, W/4]`` (``W/6`` with ``stem_stride: 3``): the original
    CRNN's plain conv stack, narrowed.

    Five 3x3 conv + BN + ReLU stages; max-pooling halves height and width twice, then the height
    only. Not in the guide: on a CPU from scratch it leaves CTC's all-blank plateau within ~150
    steps where MobileNetV3 (small or large, 0.5) was still on it after 300, and it is ~2x faster
    per step (both measured on the digits data; see the numbers recipe).

    ``stem_stride`` s > 1 makes the first stage a (s + 2)-wide convolution of stride s with no
    pooling after it, so the second stage sees ``H/s x W/s``: a 48 px input with s = 3 costs the
    later stages what a 32 px input costs them with s = 1, and its output has ``W/6`` steps.
    """

    POOLS: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (2, 1), (2, 1), (2, 1))
    MULTIPLIERS = (1, 2, 4, 4, 8)

    def __init__(self, in_channels: int = 3, width: int = 16, stem_stride: int = 1) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if stem_stride <= 0:
            raise ValueError(f"stem_stride must be positive, got {stem_stride}")
        channels = width * self.MULTIPLIERS[0]
        layers = _vgg_stem(in_channels, channels, self.POOLS[0], stem_stride)
        for multiplier, pool in zip(self.MULTIPLIERS[1:], self.POOLS[1:], strict=True):
            layers += [ConvBNAct(channels, width * multiplier, 3, act=nn.ReLU), nn.MaxPool2d(pool, pool)]
            channels = width * multiplier
        self.features = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).amax(dim=2, keepdim=True)


def _vgg_stem(in_channels: int, out_channels: int, pool: tuple[int, int], stride: int) -> list[nn.Module]:
    """The first stage's conv and pooling; an ``Identity`` in the pooling's place keeps the
    parameter names of the later stages the same for every stride."""
    if stride == 1:
        return [ConvBNAct(in_channels, out_channels, 3, act=nn.ReLU), nn.MaxPool2d(pool, pool)]
    return [ConvBNAct(in_channels, out_channels, stride + 2, stride, act=nn.ReLU), nn.Identity()]


# --- neck ---------------------------------------------------------------------------------------

ENCODER_TYPES = ("reshape", "rnn")


class SequenceEncoder(nn.Module):
    """``[N, C, 1, T]`` features -> ``[N, T, C']`` sequence; ``rnn`` adds a BiLSTM.

    ``skip`` (thaiocr's addition, off by default as in PaddleOCR) adds a linear projection of the
    features to the BiLSTM's output. From scratch, a plain BiLSTM passes almost no signal for its
    first hundreds of steps, and CTC sits on the all-blank plateau; the shortcut lets the backbone
    learn from step one. Measured on one batch of digit lines: loss 0.005 after 50 steps with the
    shortcut, 3.3 without.
    """

    def __init__(self, in_channels: int, encoder_type: str = "rnn", hidden_size: int = 48, num_layers: int = 2,
                 skip: bool = False) -> None:
        super().__init__()
        if encoder_type not in ENCODER_TYPES:
            raise ValueError(f"encoder_type must be one of {list(ENCODER_TYPES)}, got {encoder_type!r}")
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"hidden_size and num_layers must be positive, got {hidden_size}, {num_layers}")
        if skip and encoder_type != "rnn":
            raise ValueError("skip needs encoder_type rnn")
        self.rnn: nn.LSTM | None = None
        self.skip: nn.Linear | None = None
        self.out_channels = in_channels
        if encoder_type == "rnn":
            self.rnn = nn.LSTM(in_channels, hidden_size, num_layers=num_layers, bidirectional=True,
                               batch_first=True)
            self.out_channels = 2 * hidden_size
            if skip:
                self.skip = nn.Linear(in_channels, self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # For a channels_last input the permuted view is already contiguous: no copy.
        features = x.squeeze(2).permute(0, 2, 1)
        if self.rnn is None:
            return features
        sequence, _ = self.rnn(features)
        return sequence + self.skip(features) if self.skip is not None else sequence


# --- head ---------------------------------------------------------------------------------------


class CTCHead(nn.Module):
    """``[N, T, C]`` -> ``[N, T, num_classes]`` raw logits.

    ``fc_decay`` is the weight decay this layer asks for (see ``CRNN.param_groups``);
    ``mid_channels`` inserts a linear bottleneck, without activation, as PaddleOCR does.
    """

    def __init__(self, in_channels: int, out_channels: int, fc_decay: float | None = None,
                 mid_channels: int | None = None) -> None:
        super().__init__()
        if fc_decay is not None and fc_decay < 0:
            raise ValueError(f"fc_decay must not be negative, got {fc_decay}")
        if mid_channels is not None and mid_channels <= 0:
            raise ValueError(f"mid_channels must be positive, got {mid_channels}")
        self.fc_decay = fc_decay
        self.out_channels = out_channels
        if mid_channels:
            self.fc: nn.Module = nn.Sequential(nn.Linear(in_channels, mid_channels),
                                               nn.Linear(mid_channels, out_channels))
        else:
            self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


# --- the model ----------------------------------------------------------------------------------


class CRNN(nn.Module):
    """``[N, 3, H, W]`` float images -> ``[N, T, num_classes]`` raw logits (no softmax)."""

    def __init__(self, backbone: nn.Module, neck: nn.Module, head: CTCHead, architecture: dict | None = None
                 ) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head
        # The Architecture section it was built from, so that exports can describe themselves.
        self.architecture = architecture or {}

    @property
    def num_classes(self) -> int:
        return self.head.out_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(images)))

    def param_groups(self, base_weight_decay: float) -> list[dict]:
        """Optimizer parameter groups: the head's own ``fc_decay`` (when set), the rest the base decay."""
        if self.head.fc_decay is None:
            return [{"params": list(self.parameters()), "weight_decay": base_weight_decay}]
        head_ids = {id(p) for p in self.head.parameters()}
        body = [p for p in self.parameters() if id(p) not in head_ids]
        return [
            {"params": body, "weight_decay": base_weight_decay},
            {"params": list(self.head.parameters()), "weight_decay": self.head.fc_decay},
        ]


# --- registries and the builder -----------------------------------------------------------------

BACKBONES: dict[str, type[nn.Module]] = {"MobileNetV3": MobileNetV3, "VGG": VGG, "PPLCNetV3": PPLCNetV3}
NECKS: dict[str, type[nn.Module]] = {"SequenceEncoder": SequenceEncoder, "SVTREncoder": SVTREncoder}
HEADS: dict[str, type[nn.Module]] = {"CTCHead": CTCHead}


def build_model(arch: ArchitectureConfig, num_classes: int) -> CRNN:
    """The CRNN a recipe's Architecture section describes, with ``num_classes`` outputs."""
    if arch.Transform:
        raise ConfigError("Architecture.Transform: no transform stage is supported; remove it")
    backbone = build_stage("Backbone", arch.Backbone, BACKBONES, in_channels=3)
    neck = build_stage("Neck", arch.Neck, NECKS, in_channels=backbone.out_channels)
    head = build_stage("Head", arch.Head, HEADS, in_channels=neck.out_channels, out_channels=num_classes)
    return CRNN(backbone, neck, head, architecture=dataclasses.asdict(arch))


def check_input_height(model: CRNN, height: int) -> None:
    """Raise ConfigError when the backbone shrinks a ``height``-px line to no feature row.

    Found by running the backbone on one blank line (each backbone's arithmetic is its own), so a
    recipe fails when it is loaded, not with a tensor-size error at its first training step.
    """
    if _leaves_a_feature_row(model.backbone, height):
        return
    smallest = next((h for h in range(height + 1, 8 * height) if _leaves_a_feature_row(model.backbone, h)), None)
    hint = f"; the smallest height it takes is {smallest}" if smallest else ""
    raise ConfigError(f"RecResizeImg.image_shape: a {height} px high input leaves no feature row in "
                      f"Architecture.Backbone ({type(model.backbone).__name__}){hint}")


def _leaves_a_feature_row(backbone: nn.Module, height: int) -> bool:
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            return backbone(torch.zeros(1, 3, height, 4 * height)).shape[2] > 0
    except RuntimeError:
        return False
    finally:
        backbone.train(was_training)
