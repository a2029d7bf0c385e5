"""The gain head: a small CNN that predicts, from a low-resolution tile, how much the heavy SR model's output would
differ from the compact model's there, so the runtime can send its heavy-model budget where it changes the image.

Input (N, 3, H, W) LR RGB in [0, 1]; output (N, 1, ceil(H/8), ceil(W/8)): per 8x8 LR cell, the predicted
log10 of the mean squared difference (RGB, [0, 1] scale) between the two models' x4 outputs over that cell. A tile's
routing score is the mean of its cells. Trained by ``qualedge train-router`` (train/router.py); about 0.03 M
parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

CELL = 8


class GainHead(nn.Module):
    cell = CELL

    def __init__(self, *, width: tuple[int, int, int] = (16, 32, 48)) -> None:
        super().__init__()
        c1, c2, c3 = width
        self.gain = nn.Sequential(
            nn.Conv2d(3, c1, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c2, c2, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c2, c3, 3, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c3, 3, 1, 2, dilation=2), nn.ReLU(inplace=True),
            nn.Conv2d(c3, 1, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 1, ceil(H/8), ceil(W/8)) predicted log10 MSE between heavy and compact output."""
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (-w) % CELL, 0, (-h) % CELL), mode="replicate")  # always (a Python `if` would freeze in export)
        return self.gain((x - 0.5) / 0.25)


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="Router", scale=1, in_channels=3, out_channels=1, color="RGB", size=SizeRequirements(minimum=8),
        tiling=Tiling.SUPPORTED, tile_advice=(256, 0), supports_fp16=True, supports_bf16=True, fp32_layers=(),
    )  # fmt: skip


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "gain.0.weight" in sd and "gain.10.weight" in sd


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    return dict(width=(sd["gain.0.weight"].shape[0], sd["gain.2.weight"].shape[0], sd["gain.6.weight"].shape[0]))


SPEC = ArchSpec(
    id="gain_head",
    name="gain head (heavy-vs-compact SR benefit per LR cell)",
    module=GainHead,
    defaults=dict(width=(16, 32, 48)),
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="Apache-2.0 (qualedge)",
    paper="qualedge",
)
