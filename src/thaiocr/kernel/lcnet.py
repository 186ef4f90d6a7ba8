"""PP-OCRv4's mobile recogniser in PyTorch: the PPLCNetV3 backbone and the SVTR sequence encoder.

Written from the layer shapes of the paddle2onnx graph that the `rapidocr-onnxruntime` wheel ships
(`ch_PP-OCRv4_rec_infer.onnx`), so that its weights can be loaded (thaiocr.paddleweights) and
fine-tuned on Thai. The graph holds the inference form, where each block's parallel training
branches and their batch norms are already folded into one convolution with a bias: that is the
form built here, so every tensor of the graph has one place to go and nothing is re-derived. That
form has no batch norm inside the blocks: from random weights its signal fades block by block
(gradients ~1e-17 at the third block), so it is meant to start from trained weights.

Each convolution of a block is followed by a learnable scale and shift (one number each), a
hard-swish, and a second learnable scale and shift. A 48 px high line leaves a 3-row map after the
backbone's strides (2, then (2, 1) three times), which a 3 x 2 average pooling turns into one row
and ``W / 8`` time steps. The encoder mixes the steps with two small transformer blocks and joins
that with the backbone's features (the graph's order of operations, kept so the weights mean what
they meant).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from thaiocr.kernel.blocks import SqueezeExcite

# kernel, in channels, out channels, stride, squeeze-excite: the graph's fourteen blocks in order.
LCNET_BLOCKS: tuple[tuple[int, int, int, int | tuple[int, int], bool], ...] = (
    (3, 16, 32, 1, False),
    (3, 32, 64, 1, False),
    (3, 64, 64, 1, False),
    (3, 64, 128, (2, 1), False),
    (3, 128, 128, 1, False),
    (3, 128, 240, (1, 2), False),
    (5, 240, 240, 1, False),
    (5, 240, 240, 1, False),
    (5, 240, 240, 1, False),
    (5, 240, 240, 1, False),
    (5, 240, 480, (2, 1), True),
    (5, 480, 480, 1, True),
    (5, 480, 480, (2, 1), False),
    (5, 480, 480, 1, False),
)
STEM_CHANNELS = 16


class Affine(nn.Module):
    """``scale * x + bias`` with one learnable number each (PaddleOCR's LearnableAffineBlock)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.bias


class AffineConv(nn.Module):
    """A folded convolution (with bias), an affine, a hard-swish and another affine."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int | tuple[int, int] = 1,
                 groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2, groups=groups)
        self.before = Affine()
        self.after = Affine()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(F.hardswish(self.before(self.conv(x))))


class LCNetBlock(nn.Module):
    """Depthwise k x k (with the block's stride), optional squeeze-excite, pointwise 1 x 1."""

    def __init__(self, kernel: int, in_channels: int, out_channels: int, stride: int | tuple[int, int],
                 use_se: bool) -> None:
        super().__init__()
        self.depthwise = AffineConv(in_channels, in_channels, kernel, stride, groups=in_channels)
        # PP-OCRv4 reduces to exactly a quarter (60 of 240), not to make_divisible's 64
        self.se = SqueezeExcite(in_channels, squeezed=in_channels // 4) if use_se else nn.Identity()
        self.pointwise = AffineConv(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.se(self.depthwise(x)))


class PPLCNetV3(nn.Module):
    """``[N, 3, 48, W]`` -> ``[N, 480, 1, W/8]``: PP-OCRv4's mobile recognition backbone.

    ``frozen_blocks`` keeps the stem and that many blocks as they were loaded: no gradients, batch
    norm in inference mode. On a CPU the backward pass of the early, wide-map depthwise
    convolutions is most of a training step (batch 32 x 48 x 480, 2 threads: 4.4 s with every
    block trained, 1.7 s with the first 10 frozen; thai_general's VGG 0.3 s).
    """

    def __init__(self, in_channels: int = 3, frozen_blocks: int = 0) -> None:
        super().__init__()
        if not 0 <= frozen_blocks <= len(LCNET_BLOCKS):
            raise ValueError(f"frozen_blocks must be 0 to {len(LCNET_BLOCKS)}, got {frozen_blocks}")
        self.stem = nn.Sequential(nn.Conv2d(in_channels, STEM_CHANNELS, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(STEM_CHANNELS))
        self.blocks = nn.Sequential(*(LCNetBlock(*row) for row in LCNET_BLOCKS))
        self.out_channels = LCNET_BLOCKS[-1][2]
        self.frozen_blocks = frozen_blocks
        for parameter in self._frozen().parameters():
            parameter.requires_grad_(False)

    def _frozen(self) -> nn.Sequential:
        return nn.Sequential(self.stem, *self.blocks[: self.frozen_blocks])

    def train(self, mode: bool = True) -> PPLCNetV3:
        super().train(mode)
        self._frozen().eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.frozen_blocks == 0):
            x = self.blocks[: self.frozen_blocks](self.stem(x))
        return F.avg_pool2d(self.blocks[self.frozen_blocks:](x), (3, 2))


# --- the SVTR sequence encoder ------------------------------------------------------------------


class ConvBNSwish(nn.Sequential):
    """A 1 x k convolution without bias, batch norm and swish (x * sigmoid(x))."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 1) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, (1, width), padding=(0, width // 2), bias=False),
                         nn.BatchNorm2d(out_channels), nn.SiLU())


class SelfAttention(nn.Module):
    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dims, 3 * dims)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, steps, dims = x.shape
        q, k, v = self.qkv(x).reshape(batch, steps, 3, self.heads, dims // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v)
        return self.proj(mixed.transpose(1, 2).reshape(batch, steps, dims))


class TransformerBlock(nn.Module):
    """Layer norm before each of attention and a 2x swish MLP, each added back."""

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=1e-5)
        self.attention = SelfAttention(dims, heads)
        self.norm2 = nn.LayerNorm(dims, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(dims, 2 * dims), nn.SiLU(), nn.Linear(2 * dims, dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class SVTREncoder(nn.Module):
    """``[N, C, 1, T]`` -> ``[N, T, dims]``: narrow to C/8, widen to ``dims``, two transformer
    blocks over the steps, back to C channels, joined with the input and narrowed to ``dims``."""

    def __init__(self, in_channels: int, dims: int = 120, depth: int = 2, heads: int = 8) -> None:
        super().__init__()
        self.narrow = ConvBNSwish(in_channels, in_channels // 8, 3)
        self.widen = ConvBNSwish(in_channels // 8, dims)
        self.blocks = nn.Sequential(*(TransformerBlock(dims, heads) for _ in range(depth)))
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        self.back = ConvBNSwish(dims, in_channels)
        self.join = ConvBNSwish(2 * in_channels, in_channels // 8, 3)
        self.out = ConvBNSwish(in_channels // 8, dims)
        self.out_channels = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.widen(self.narrow(x)).squeeze(2).transpose(1, 2)
        z = self.norm(self.blocks(z)).transpose(1, 2).unsqueeze(2)
        z = self.out(self.join(torch.cat([x, self.back(z)], dim=1)))
        return z.squeeze(2).transpose(1, 2)
