"""qualedge's learned quality head: a small CNN that gives a dense quality map (one value per 16x16 cell) in one pass.

Trained by ``qualedge train-qhead`` to reproduce a teacher metric on tiles (by default the mean of normalised NIQE
and PIQE) plus a ranking loss on known degradation orders. Output: quality in [0, 1], higher is better, per cell;
the score of an image or tile is the mean of its cells. Fully convolutional and differentiable, so it serves as the
runtime's quality map, as the reward Q in LoRA fine-tuning, and exports to ONNX.

Architecture (0.24 M parameters, about 16 ms per megapixel on 2 CPU threads): a 4x4 stride-4 "patchify"
convolution (a learned local transform that keeps the high frequencies noise and blur live in), 3x3 convolutions
down to 1/16 resolution (32-48-96 channels), two dilated 3x3 convolutions (receptive field about 236 px), a 1x1
convolution and a sigmoid.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from qualedge import paths
from qualedge.errors import WeightsNotFoundError

CELL = 16
DEFAULT_WEIGHTS = paths.asset("weights", "quality_head.safetensors")


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


def load_quality_head(weights: str | Path | None = None) -> QualityHead:
    """The shipped head (or ``weights``), in eval mode."""
    from qualedge.weights.load import load_state_dict
    from qualedge.weights.zoo import load_into

    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsNotFoundError(
            f"quality head weights {path} not found. They ship with qualedge (qualedge/assets/weights/); reinstall, or "
            "train your own with 'qualedge train-qhead' and pass weights=PATH."
        )
    head = QualityHead()
    load_into(head, load_state_dict(path), source=str(path))
    return head.eval()
