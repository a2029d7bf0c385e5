"""U-Net discriminator with spectral normalisation (Real-ESRGAN, Wang et al. 2021).

Outputs a per-pixel realness map, which gives the generator local feedback. Three stride-2 encoder convolutions,
bilinear decoder with skip connections, two refinement convolutions. Spectral norm on all inner convolutions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling


class UNetDiscriminatorSN(nn.Module):
    """Input (N, C, H, W) with H and W multiples of 8; output (N, 1, H, W) logits."""

    def __init__(self, *, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        nf = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, nf, 3, 1, 1)
        self.conv1 = spectral_norm(nn.Conv2d(nf, nf * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(nf * 2, nf * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(nf * 4, nf * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(nf * 8, nf * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(nf * 4, nf * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(nf * 2, nf, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(nf, nf, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(nf, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, negative_slope=0.2)

        def up(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, scale_factor=2, mode="bilinear", align_corners=False)

        x0 = act(self.conv0(x))
        x1 = act(self.conv1(x0))
        x2 = act(self.conv2(x1))
        x3 = act(self.conv3(x2))
        x4 = act(self.conv4(up(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = act(self.conv5(up(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = act(self.conv6(up(x5)))
        if self.skip_connection:
            x6 = x6 + x0
        out = act(self.conv7(x6))
        out = act(self.conv8(out))
        return self.conv9(out)


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="Discriminator",
        scale=1,
        in_channels=hp["num_in_ch"],
        out_channels=1,
        color="RGB",
        size=SizeRequirements(minimum=8, multiple_of=8),
        tiling=Tiling.DISCOURAGED,
        tile_advice=(256, 0),
        supports_fp16=True,
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "conv9.weight" in sd and any(k.startswith("conv1.weight_orig") for k in sd)


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    return dict(num_in_ch=sd["conv0.weight"].shape[1], num_feat=sd["conv0.weight"].shape[0], skip_connection=True)


SPEC = ArchSpec(
    id="unet_disc_sn",
    name="UNetDiscriminatorSN (Real-ESRGAN discriminator)",
    module=UNetDiscriminatorSN,
    defaults=dict(num_in_ch=3, num_feat=64, skip_connection=True),
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="BSD-3-Clause (Real-ESRGAN design); implementation qualedge",
    paper="Wang et al., Real-ESRGAN (ICCVW 2021)",
)
