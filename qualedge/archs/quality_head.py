"""The quality head: a small dense no-reference IQA network (one quality in [0, 1] per 16x16 cell), distilled from
NIQE+PIQE by ``qualedge train-qhead`` (train/qhead.py). It is the runtime's quality map, the AMO scorer, the LoRA
reward and the restoration prompts' quality map; registered here like every architecture so bundles describe it
with a real descriptor. Weights and loading: qualedge/iqa/head.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

CELL = 16


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, dilation, dilation=dilation), nn.ReLU(inplace=True)]


class QualityHead(nn.Module):
    cell = CELL

    def __init__(self, *, width: tuple[int, int, int] = (32, 48, 96)) -> None:
        super().__init__()
        c1, c2, c3 = width
        self.body = nn.Sequential(
            nn.Conv2d(3, c1, 4, 4),
            nn.ReLU(inplace=True),
            *_conv(c1, c2, 2),
            *_conv(c2, c2),
            *_conv(c2, c3, 2),
            *_conv(c3, c3, dilation=2),
            *_conv(c3, c3, dilation=4),
        )
        self.out = nn.Conv2d(c3, 1, 1)

    def cell_map(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> (N, 1, ceil(H/16), ceil(W/16)) quality in [0, 1]."""
        h, w = x.shape[-2:]
        # always pad (a zero-width pad is a no-op): a Python `if` here would be frozen by graph export
        x = F.pad(x, (0, (-w) % CELL, 0, (-h) % CELL), mode="replicate")
        return torch.sigmoid(self.out(self.body((x - 0.5) / 0.25)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quality of each image (N,): the mean of its cells."""
        return self.cell_map(x).flatten(1).mean(1)


class CellMap(nn.Module):
    """The head's dense map as a module, (N, 1, H/16, W/16): the form exported to bundles and run by backends."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.cell_map(x)



def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="IQA", scale=1, in_channels=3, out_channels=1, color="RGB", size=SizeRequirements(minimum=16, multiple_of=1),
        tiling=Tiling.SUPPORTED, tile_advice=(512, 0), supports_fp16=False, supports_bf16=True, fp32_layers=(),
    )  # fmt: skip


def _keys(width: tuple[int, int, int] = (32, 48, 96)) -> set[str]:
    return set(QualityHead(width=width).state_dict())


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return set(sd) == _keys() and sd["body.0.weight"].shape[-1] == 4


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    return dict(width=(sd["body.0.weight"].shape[0], sd["body.2.weight"].shape[0], sd["body.6.weight"].shape[0]))


SPEC = ArchSpec(
    id="quality_head",
    name="quality head (dense NR-IQA, one quality per 16x16 cell)",
    module=QualityHead,
    defaults=dict(width=(32, 48, 96)),
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="Apache-2.0 (qualedge)",
    paper="qualedge",
)
