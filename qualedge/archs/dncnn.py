"""DnCNN: residual denoising CNN (Zhang et al., TIP 2017), batch-norm folded (KAIR's released form).

conv+ReLU, (nb-2) x conv+ReLU, conv; the network predicts the noise and the output is input - noise.
Parameter names ``model.{0,2,...}`` follow KAIR so its checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling


class DnCNN(nn.Module):
    def __init__(self, *, in_nc: int = 1, out_nc: int = 1, nc: int = 64, nb: int = 17) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc, nc, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, 1, 1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.model(x)


def _describe(hp: Mapping[str, Any]) -> dict[str, Any]:
    return dict(
        purpose="Denoise",
        scale=1,
        in_channels=hp["in_nc"],
        out_channels=hp["out_nc"],
        color="Y" if hp["in_nc"] == 1 else "RGB",
        size=SizeRequirements(),
        tiling=Tiling.SUPPORTED,
        tile_advice=(256, 20),
        supports_fp16=True,
        supports_bf16=True,
        fp32_layers=(),
    )


def _detect(sd: Mapping[str, torch.Tensor]) -> bool:
    return "model.0.weight" in sd and "model.2.weight" in sd and not any(".weight_orig" in k for k in sd)


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    idx = sorted(int(k.split(".")[1]) for k in sd if k.startswith("model.") and k.endswith(".weight"))
    return dict(
        in_nc=sd["model.0.weight"].shape[1],
        out_nc=sd[f"model.{idx[-1]}.weight"].shape[0],
        nc=sd["model.0.weight"].shape[0],
        nb=len(idx),
    )


SPEC = ArchSpec(
    id="dncnn",
    name="DnCNN (residual denoiser)",
    module=DnCNN,
    defaults=dict(in_nc=1, out_nc=1, nc=64, nb=17),
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="MIT (KAIR weights); implementation qualedge",
    paper="Zhang et al., DnCNN (TIP 2017)",
)
