"""The DB text detector: MobileNetV3 backbone -> FPN neck -> DB head (probability and threshold maps).

The backbone is the kernel's MobileNetV3 (thaiocr.kernel.blocks: its blocks and channel tables) with the
usual stride 2 in both directions where the recogniser halves only the height; it returns the
features at strides 4, 8, 16 and 32. The neck (PaddleOCR's DBFPN shape) brings them to one
width, adds them top-down, and concatenates the four levels at stride 4. The head predicts two
maps at stride 4 and upsamples each by two transposed convolutions to the input's resolution.

``model(images)`` returns the text probability ``[N, 1, H, W]`` in 0..1, as PaddleOCR's DB
ONNX files do, so that :class:`thaiocr.det.detector.DBDetector` runs an export of it unchanged;
``model.maps(images)`` returns what training needs (probability logits, threshold, binary map).
Sides must be multiples of 32.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from thaiocr.det.config import DetArchitectureConfig
from thaiocr.kernel.blocks import (
    LARGE_BLOCKS,
    SMALL_BLOCKS,
    ConvBNAct,
    build_stage,
    check_variant,
    make_divisible,
    mobilenet_layers,
)

# Per block of the kernel's MobileNetV3 tables: the stride here, and whether the block ends a feature level
# (strides 4, 8, 16; stride 32 ends after the last block and the final 1x1 convolution). Large has
# the stride of the original MobileNetV3 at block 6, which the recogniser's variant leaves at 1.
DET_LAYOUT: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {
    "large": ((1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1), (2, 5, 11), 960),
    "small": ((2, 2, 1, 2, 1, 1, 1, 1, 2, 1, 1), (0, 2, 7), 576),
}
BLOCK_TABLES = {"large": LARGE_BLOCKS, "small": SMALL_BLOCKS}
STRIDE = 32
# torch's default. The kernel's blocks use 0.01 (the recogniser's width-bucketed batches); a detector
# trained for about a thousand steps needs running statistics that keep up: with 0.01 its outputs in
# eval mode were still 0.5 everywhere after 75 steps.
DET_BN_MOMENTUM = 0.1


class DetMobileNetV3(nn.Module):
    """``[N, 3, H, W]`` -> features at strides 4, 8, 16 and 32 (channels in ``out_channels``)."""

    def __init__(self, in_channels: int = 3, model_name: str = "large", scale: float = 0.5) -> None:
        super().__init__()
        check_variant(model_name, DET_LAYOUT, scale)
        strides, level_ends, last_channels = DET_LAYOUT[model_name]
        self.stem, *blocks = mobilenet_layers(in_channels, BLOCK_TABLES[model_name], strides, scale)
        self.stages = nn.ModuleList()
        self.out_channels: list[int] = []
        bounds = [0, *(end + 1 for end in level_ends), len(blocks)]
        for start, stop in pairwise(bounds[:-1]):
            self._close_stage(blocks[start:stop], blocks[stop - 1].out_channels)
        last = make_divisible(last_channels * scale)
        self._close_stage([*blocks[bounds[-2]:], ConvBNAct(blocks[-1].out_channels, last, 1)], last)

    def _close_stage(self, blocks: list[nn.Module], channels: int) -> None:
        self.stages.append(nn.Sequential(*blocks))
        self.out_channels.append(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features, x = [], self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class DBFPN(nn.Module):
    """Four feature levels -> ``[N, out_channels, H/4, W/4]``: 1x1 to ``out_channels``, top-down
    sums, a 3x3 to a quarter of ``out_channels`` per level, all upsampled to stride 4 and concatenated."""

    def __init__(self, in_channels: list[int], out_channels: int = 96) -> None:
        super().__init__()
        if out_channels <= 0 or out_channels % 4:
            raise ValueError(f"out_channels must be a positive multiple of 4, got {out_channels}")
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, 1, bias=False) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)
                                    for _ in in_channels)
        self.out_channels = out_channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        laterals = [conv(f) for conv, f in zip(self.lateral, features, strict=True)]
        for i in range(len(laterals) - 2, -1, -1):
            laterals[i] = laterals[i] + F.interpolate(laterals[i + 1], scale_factor=2.0, mode="nearest")
        levels = [conv(x) for conv, x in zip(self.smooth, laterals, strict=True)]
        return torch.cat([F.interpolate(x, scale_factor=2.0 ** i, mode="nearest") if i else x
                          for i, x in enumerate(levels)], dim=1)


class MapBranch(nn.Sequential):
    """Stride-4 features -> one map at the input's resolution (logits): 3x3 conv, two 2x2 transposed convs."""

    def __init__(self, in_channels: int) -> None:
        mid = max(1, in_channels // 4)
        super().__init__(
            ConvBNAct(in_channels, mid, 3, act=nn.ReLU),
            nn.ConvTranspose2d(mid, mid, 2, stride=2, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(),
            nn.ConvTranspose2d(mid, 1, 2, stride=2),
        )


@dataclass(frozen=True)
class DBMaps:
    """What the loss needs: probability logits, threshold map (0..1), approximate binary map."""

    prob_logits: torch.Tensor
    threshold: torch.Tensor
    binary: torch.Tensor


class DBHead(nn.Module):
    """Probability and threshold maps; ``k`` steepens the approximate binarisation ``sigmoid(k(P - T))``."""

    def __init__(self, in_channels: int, k: float = 50.0) -> None:
        super().__init__()
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        self.prob = MapBranch(in_channels)
        self.thresh = MapBranch(in_channels)
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.prob(x))

    def maps(self, x: torch.Tensor) -> DBMaps:
        logits = self.prob(x)
        threshold = torch.sigmoid(self.thresh(x))
        return DBMaps(logits, threshold, torch.sigmoid(self.k * (torch.sigmoid(logits) - threshold)))


class DBNet(nn.Module):
    """``[N, 3, H, W]`` normalised BGR images -> ``[N, 1, H, W]`` text probability."""

    def __init__(self, backbone: nn.Module, neck: nn.Module, head: DBHead, architecture: dict | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.architecture = architecture or {}  # the section it was built from, for checkpoints and exports
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = DET_BN_MOMENTUM

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(images)))

    def maps(self, images: torch.Tensor) -> DBMaps:
        return self.head.maps(self.neck(self.backbone(images)))

    def param_groups(self, base_weight_decay: float) -> list[dict]:
        """One optimizer group, as kernel.training.build_optimizer expects of a model."""
        return [{"params": list(self.parameters()), "weight_decay": base_weight_decay}]


DET_BACKBONES: dict[str, type[nn.Module]] = {"MobileNetV3": DetMobileNetV3}
DET_NECKS: dict[str, type[nn.Module]] = {"DBFPN": DBFPN}
DET_HEADS: dict[str, type[nn.Module]] = {"DBHead": DBHead}


def build_det_model(arch: DetArchitectureConfig) -> DBNet:
    """The DBNet a det recipe's Architecture section describes."""
    backbone = build_stage("Backbone", arch.Backbone, DET_BACKBONES, in_channels=3)
    neck = build_stage("Neck", arch.Neck, DET_NECKS, in_channels=backbone.out_channels)
    head = build_stage("Head", arch.Head, DET_HEADS, in_channels=neck.out_channels)
    return DBNet(backbone, neck, head, architecture=dataclasses.asdict(arch))
