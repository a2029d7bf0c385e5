"""waifu2x UpConv7: six valid 3x3 convolutions (leaky ReLU 0.1) then a 4x4 stride-2 transposed convolution.

The network shrinks its input by 7 pixels per side; this module replicate-pads by 7 first, so that the output is
exactly 2x the input (as waifu2x-ncnn-vulkan's prepadding does). RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

PREPAD = 7


class UpConv7(nn.Module):
    def __init__(self, *, num_in_ch: int = 3, num_out_ch: int = 3) -> None:
        super().__init__()
        chans = (num_in_ch, 16, 32, 64, 128, 128, 256)
        self.body = nn.ModuleList(nn.Conv2d(a, b, 3, 1, 0) for a, b in zip(chans[:-1], chans[1:]))
        self.up = nn.ConvTranspose2d(256, num_out_ch, 4, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (PREPAD,) * 4, mode="replicate")
        for conv in self.body:
            x = F.leaky_relu(conv(x), 0.1)
        return self.up(x)


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="SR",
        scale=2,
        in_channels=hp["num_in_ch"],
        out_channels=hp["num_out_ch"],
        color="RGB",
        size=SizeRequirements(),
        tiling=Tiling.SUPPORTED,
        tile_advice=(256, 16),
        supports_fp16=True,
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "up.weight" in sd and "body.5.weight" in sd and sd["up.weight"].shape[-1] == 4


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    return dict(num_in_ch=sd["body.0.weight"].shape[1], num_out_ch=sd["up.weight"].shape[1])


SPEC = ArchSpec(
    id="upconv7",
    name="waifu2x UpConv7 (2x, optional denoise)",
    module=UpConv7,
    defaults=dict(num_in_ch=3, num_out_ch=3),
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="MIT (waifu2x); implementation qualedge",
    paper="nagadomi/waifu2x upconv_7",
)
