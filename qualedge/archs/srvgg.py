"""SRVGGNetCompact: the compact VGG-style SR network of Real-ESRGAN (realesr-animevideov3, realesr-general-x4v3).

A plain chain of 3x3 convolutions with activations at low resolution, a pixel shuffle, and a nearest-upsampled
copy of the input added back, so the network learns the residual. Parameter names follow the original
(``body.{i}``) so official checkpoints load.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

_ACTS = ("relu", "prelu", "leakyrelu")


def _act(kind: str, num_feat: int) -> nn.Module:
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)


class SRVGGNetCompact(nn.Module):
    """Compact SR network. Input and output are RGB in [0, 1] (NCHW)."""

    def __init__(
        self,
        *,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = "prelu",
    ) -> None:
        super().__init__()
        if act_type not in _ACTS:
            raise ValueError(f"act_type must be one of {_ACTS}, got {act_type!r}")
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _act(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _act(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="SR",
        scale=hp["upscale"],
        in_channels=hp["num_in_ch"],
        out_channels=hp["num_out_ch"],
        color="RGB",
        size=SizeRequirements(minimum=1, multiple_of=1),
        tiling=Tiling.SUPPORTED,
        tile_advice=(256, 16),
        supports_fp16=True,
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    w = sd.get("body.0.weight")
    return w is not None and w.ndim == 4 and "conv_first.weight" not in sd and "upsampler.weight" not in sd


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    idx = sorted({int(k.split(".")[1]) for k in sd if k.startswith("body.")})
    last = idx[-1]
    num_feat, num_in = sd["body.0.weight"].shape[:2]
    act = "prelu" if "body.1.weight" in sd else "relu"
    num_conv = (last - 2) // 2  # body = conv, act, (conv, act) * num_conv, conv
    out_total = sd[f"body.{last}.weight"].shape[0]
    num_out = num_in
    upscale = int(round((out_total / num_out) ** 0.5))
    return dict(num_in_ch=num_in, num_out_ch=num_out, num_feat=num_feat, num_conv=num_conv, upscale=upscale, act_type=act)


SPEC = ArchSpec(
    id="srvgg",
    name="SRVGGNetCompact (Real-ESRGAN compact)",
    module=SRVGGNetCompact,
    defaults=dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
    presets={
        "animevideov3": dict(num_feat=64, num_conv=16, upscale=4, act_type="prelu"),
        "general-x4v3": dict(num_feat=64, num_conv=32, upscale=4, act_type="prelu"),
    },
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="BSD-3-Clause (Real-ESRGAN design); implementation qualedge",
    paper="Wang et al., Real-ESRGAN (ICCVW 2021)",
)
