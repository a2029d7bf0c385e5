"""ESPCN: efficient sub-pixel convolutional network (Shi et al., CVPR 2016), luma (Y) only.

The defaults follow the OpenCV ``dnn_superres`` release (TF-ESPCN): 5x5 conv 64, 3x3 conv 32, 3x3 conv r^2,
ReLU activations, depth-to-space, then tanh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling

_ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh}


class ESPCN(nn.Module):
    """Y-channel SR. Input and output: (N, 1, H, W) luma in [0, 1]."""

    def __init__(
        self, *, scale: int = 4, num_channels: int = 1, feats: tuple[int, int] = (64, 32), act: str = "relu", out_act: str = "tanh"
    ) -> None:
        super().__init__()
        if act not in _ACTS or out_act not in (*_ACTS, "none"):
            raise ValueError(f"act must be one of {sorted(_ACTS)} and out_act one of {sorted(_ACTS)} or 'none'")
        f1, f2 = feats
        self.conv1 = nn.Conv2d(num_channels, f1, 5, 1, 2)
        self.conv2 = nn.Conv2d(f1, f2, 3, 1, 1)
        self.conv3 = nn.Conv2d(f2, num_channels * scale * scale, 3, 1, 1)
        self.act = _ACTS[act]()
        self.shuffle = nn.PixelShuffle(scale)
        self.out_act = _ACTS[out_act]() if out_act != "none" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.out_act(self.shuffle(self.conv3(x)))


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="SR",
        scale=hp["scale"],
        in_channels=hp["num_channels"],
        out_channels=hp["num_channels"],
        color="Y" if hp["num_channels"] == 1 else "RGB",
        size=SizeRequirements(),
        tiling=Tiling.SUPPORTED,
        tile_advice=(512, 8),
        supports_fp16=True,
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    w = sd.get("conv1.weight")
    return w is not None and w.shape[-1] == 5 and "conv3.weight" in sd and "conv4.weight" not in sd


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    c = sd["conv1.weight"].shape[1]
    scale = int(round((sd["conv3.weight"].shape[0] / c) ** 0.5))
    return dict(scale=scale, num_channels=c, feats=(sd["conv1.weight"].shape[0], sd["conv2.weight"].shape[0]), act="relu", out_act="tanh")


SPEC = ArchSpec(
    id="espcn",
    name="ESPCN (sub-pixel CNN, luma)",
    module=ESPCN,
    defaults=dict(scale=4, num_channels=1, feats=(64, 32), act="relu", out_act="tanh"),
    presets={"x2": dict(scale=2), "x3": dict(scale=3), "x4": dict(scale=4)},
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="Apache-2.0 (OpenCV dnn_superres weights); implementation qualedge",
    paper="Shi et al., ESPCN (CVPR 2016)",
)
