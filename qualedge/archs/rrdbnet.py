"""RRDBNet: Residual-in-Residual Dense Block network (ESRGAN, Wang et al. 2018; Real-ESRGAN x4plus configuration).

Parameter names follow BasicSR's so that official checkpoints (``params_ema``) load unchanged.
For scales 1 and 2 the input is pixel-unshuffled first (as Real-ESRGAN's x2plus), so the body always runs at 1/4.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions with dense connections; output = 0.2 * conv5 + input."""

    def __init__(self, *, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Three dense blocks with a scaled residual around them."""

    def __init__(self, *, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat=num_feat, num_grow_ch=num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator. Input and output are RGB in [0, 1] (NCHW)."""

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in (1, 2, 4):
            raise ValueError(f"RRDBNet scale must be 1, 2 or 4, got {scale}")
        self.scale = scale
        self.unshuffle = {1: 4, 2: 2, 4: 1}[scale]
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat=num_feat, num_grow_ch=num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    mult = {1: 4, 2: 2, 4: 1}[hp["scale"]]
    return dict(
        purpose="SR",
        scale=hp["scale"],
        in_channels=hp["num_in_ch"],
        out_channels=hp["num_out_ch"],
        color="RGB",
        size=SizeRequirements(minimum=mult * 2, multiple_of=mult),
        tiling=Tiling.SUPPORTED,
        tile_advice=(192, 16),
        supports_fp16=True,
        supports_bf16=True,
        # conv_up1 and the layers after it see the largest activations (fp16 black/NaN reports trace to conv_up1).
        fp32_layers=("conv_up1", "conv_up2", "conv_hr", "conv_last"),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return all(k in sd for k in ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up1.weight", "conv_hr.weight"))


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    num_feat = sd["conv_first.weight"].shape[0]
    in_ch_total = sd["conv_first.weight"].shape[1]
    num_out = sd["conv_last.weight"].shape[0]
    num_block = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    unshuffle_sq = in_ch_total // num_out if in_ch_total % num_out == 0 else 1
    scale = {1: 4, 4: 2, 16: 1}.get(unshuffle_sq, 4)
    num_in = in_ch_total // {4: 1, 2: 4, 1: 16}[scale]
    return dict(
        num_in_ch=num_in,
        num_out_ch=num_out,
        scale=scale,
        num_feat=num_feat,
        num_block=num_block,
        num_grow_ch=sd["body.0.rdb1.conv1.weight"].shape[0],
    )


SPEC = ArchSpec(
    id="rrdbnet",
    name="RRDBNet (ESRGAN / Real-ESRGAN generator)",
    module=RRDBNet,
    defaults=dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32),
    presets={"x4plus": dict(scale=4, num_block=23), "x2plus": dict(scale=2, num_block=23)},
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="BSD-3-Clause (Real-ESRGAN design); implementation qualedge",
    paper="Wang et al., ESRGAN (ECCVW 2018); Real-ESRGAN (ICCVW 2021)",
)
