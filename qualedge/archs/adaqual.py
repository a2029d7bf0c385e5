"""AdaQual-Diff's denoiser: a conditional residual diffusion U-Net of NAFNet blocks with time conditioning, and
adaptive quality prompting at the bottleneck (Su et al., 2025; backbone as in the released code, a fork of
T3-DiffWeather).

Input: the degraded image x (3 ch), the noisy residual r_t (3 ch), the timestep t, and the quality map q at the
bottleneck resolution (1/16). Output: the predicted clean residual r0 (the restored image is x + r0).
NAFBlock: LayerNorm2d -> 1x1 conv (2c) -> depthwise 3x3 -> SimpleGate -> simplified channel attention -> 1x1 conv,
scaled residual; then LayerNorm2d -> time modulation (scale, shift) -> 1x1 conv (2c) -> SimpleGate -> 1x1 conv,
scaled residual. Every op is plain (no custom kernels), so the graph exports to ONNX.

Sampling lattice: every preset uses ``down="conv4"`` (4x4 stride-2 convolutions, overlapping) and ``up="bilinear"``
(1x1 conv, then bilinear x2); ``down="conv2"``/``up="shuffle"`` (2x2 stride-2 convolutions and 1x1 conv +
PixelShuffle, as released, and the value when a checkpoint names neither) tile every level into non-overlapping
cells, and a briefly trained model shows that 16-pixel lattice as block artefacts (benchmarks/results/block_cause.md).

Sizes: ``tiny`` (width 8, one block per level, CPU tests) up to ``paper`` (width 64, encoder [1, 1, 1, 18], 1024
channels at the bottleneck, about 60 M parameters with the prompt module).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.adaqual_prompt import AdaptivePrompt
from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

DOWNS = ("conv4", "conv2")
UPS = ("bilinear", "shuffle")


class LayerNorm2d(nn.Module):
    def __init__(self, c: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + self.eps) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class NAFBlock(nn.Module):
    def __init__(self, c: int, time_dim: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, 1, 1, groups=2 * c)
        self.conv3 = nn.Conv2d(c, c, 1)
        self.sca = nn.Conv2d(c, c, 1)
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.time = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, 2 * c))
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(self.norm1(inp)))
        a, b = x.chunk(2, dim=1)
        x = a * b
        x = x * self.sca(x.mean(dim=(2, 3), keepdim=True))
        y = inp + self.conv3(x) * self.beta
        scale, shift = self.time(temb)[:, :, None, None].chunk(2, dim=1)
        x = self.norm2(y) * (1 + scale) + shift
        a, b = self.conv4(x).chunk(2, dim=1)
        return y + self.conv5(a * b) * self.gamma


class AdaQualUNet(nn.Module):
    def __init__(
        self,
        *,
        width: int = 16,
        enc_blocks: tuple[int, ...] = (1, 1, 1, 1),
        middle_blocks: int = 1,
        dec_blocks: tuple[int, ...] = (1, 1, 1, 1),
        prompt_dim: int = 64,
        prompt_mode: str = "adaptive",
        complexity: str = "minmax",
        regions: int = 4,
        global_tokens: int = 8,
        pool_size: int = 10,
        max_tokens: int = 32,
        min_tokens: int = 5,
        tau: float = 0.5,
        top_k: int = 3,
        down: str = "conv2",
        up: str = "shuffle",
    ) -> None:
        super().__init__()
        if down not in DOWNS or up not in UPS:
            raise ValueError(f"down must be one of {DOWNS} and up one of {UPS}, got {down!r}, {up!r}")
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks must have the same length")
        self.levels = len(enc_blocks)
        tdim = width * 4
        self.time_mlp = nn.Sequential(nn.Linear(width, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        self.width = width
        self.intro = nn.Conv2d(6, width, 3, 1, 1)
        self.ending = nn.Conv2d(width, 3, 3, 1, 1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc_blocks:
            self.encoders.append(nn.ModuleList(NAFBlock(c, tdim) for _ in range(n)))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2) if down == "conv2" else nn.Conv2d(c, 2 * c, 4, 2, 1))
            c *= 2
        self.middle = nn.ModuleList(NAFBlock(c, tdim) for _ in range(middle_blocks))
        self.prompt = AdaptivePrompt(
            channels=c, dim=prompt_dim, global_tokens=global_tokens, pool_size=pool_size, max_tokens=max_tokens,
            min_tokens=min_tokens, tau=tau, top_k=top_k, regions=regions, mode=prompt_mode, complexity=complexity,
        )  # fmt: skip
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        for n in dec_blocks:
            if up == "shuffle":
                self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            else:
                self.ups.append(nn.Sequential(nn.Conv2d(c, c // 2, 1, bias=False), nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)))
            c //= 2
            self.decoders.append(nn.ModuleList(NAFBlock(c, tdim) for _ in range(n)))
        self.multiple = 2**self.levels

    def forward(self, x: torch.Tensor, r_t: torch.Tensor, t: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """x, r_t: (B, 3, H, W) with H, W multiples of 2**levels; t: (B,); q: (B, 1, H/2**levels, W/2**levels)."""
        temb = self.time_mlp(timestep_embedding(t, self.width))
        h = self.intro(torch.cat([x, r_t], dim=1))
        skips = []
        for blocks, down in zip(self.encoders, self.downs):
            for blk in blocks:
                h = blk(h, temb)
            skips.append(h)
            h = down(h)
        for blk in self.middle:
            h = blk(h, temb)
        qb = F.interpolate(q, size=h.shape[-2:], mode="bilinear", align_corners=False) if q.shape[-2:] != h.shape[-2:] else q
        h = self.prompt(h, qb)
        for up, blocks, skip in zip(self.ups, self.decoders, reversed(skips)):
            h = up(h) + skip
            for blk in blocks:
                h = blk(h, temb)
        return self.ending(h)


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    m = 2 ** len(hp["enc_blocks"])
    return dict(
        purpose="Restoration",
        scale=1,
        in_channels=3,
        out_channels=3,
        color="RGB",
        size=SizeRequirements(minimum=m, multiple_of=m),
        tiling=Tiling.SUPPORTED,
        tile_advice=(256, 32),
        supports_fp16=False,  # LayerNorm2d statistics and attention logits: bf16 or fp32
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "prompt.pools" in sd and "intro.weight" in sd


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    width = sd["intro.weight"].shape[0]

    def count(prefix: str, i: int) -> int:
        return len({k.split(".")[2] for k in sd if k.startswith(f"{prefix}.{i}.")})

    levels = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("encoders."))
    pools = sd["prompt.pools"]
    up_w = sd["ups.0.0.weight"]
    return dict(
        down="conv2" if sd["downs.0.weight"].shape[-1] == 2 else "conv4",
        up="shuffle" if up_w.shape[0] == 2 * up_w.shape[1] else "bilinear",
        width=width,
        enc_blocks=tuple(count("encoders", i) for i in range(levels)),
        middle_blocks=len({k.split(".")[1] for k in sd if k.startswith("middle.")}),
        dec_blocks=tuple(count("decoders", i) for i in range(levels)),
        prompt_dim=pools.shape[-1],
        global_tokens=sd["prompt.global_prompts"].shape[0],
        pool_size=pools.shape[1],
        max_tokens=pools.shape[2],
    )


_LATTICE = {"down": "conv4", "up": "bilinear"}

SPEC = ArchSpec(
    id="adaqual_unet",
    name="AdaQual-Diff denoiser (NAFNet U-Net, time conditioning, adaptive quality prompts)",
    module=AdaQualUNet,
    defaults=dict(
        width=16, enc_blocks=(1, 1, 1, 1), middle_blocks=1, dec_blocks=(1, 1, 1, 1), prompt_dim=64, prompt_mode="adaptive",
        complexity="minmax", regions=4, global_tokens=8, pool_size=10, max_tokens=32, min_tokens=5, tau=0.5, top_k=3,
        down="conv2", up="shuffle",
    ),  # fmt: skip
    presets={
        "tiny": dict(width=8, prompt_dim=16, pool_size=4, max_tokens=8, min_tokens=2, global_tokens=2, top_k=2, **_LATTICE),
        "default": dict(_LATTICE),
        "small": dict(width=24, enc_blocks=(1, 1, 2, 2), dec_blocks=(1, 1, 1, 1), prompt_dim=48, max_tokens=16, **_LATTICE),
        "paper": dict(width=64, enc_blocks=(1, 1, 1, 18), dec_blocks=(1, 1, 1, 1), prompt_dim=64, max_tokens=32, pool_size=10, **_LATTICE),
    },
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="MIT (NAFNet design); implementation qualedge",
    paper="Su et al., AdaQual-Diff (arXiv 2504.12605, 2025); Chen et al., NAFNet (ECCV 2022)",
)
