"""FSRCNN: fast SR CNN (Dong et al., ECCV 2016), luma (Y) only.

feature extraction (5x5, d) -> shrink (1x1, s) -> m mapping layers (3x3, s) -> expand (1x1, d) -> upsampler, PReLU
after every convolution but the last. Upsamplers: ``deconv`` (the paper's 9x9 transposed convolution) and
``pixelshuffle`` (1x1 conv to r^2 channels + depth-to-space, as in the OpenCV ``dnn_superres`` release).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qualedge.archs.descriptor import ArchSpec, SizeRequirements, Tiling


class FSRCNN(nn.Module):
    """Y-channel SR. Input and output: (N, 1, H, W) luma in [0, 1]."""

    def __init__(
        self, *, scale: int = 4, num_channels: int = 1, d: int = 56, s: int = 12, m: int = 4, upsampler: str = "pixelshuffle"
    ) -> None:
        super().__init__()
        if upsampler not in ("pixelshuffle", "deconv"):
            raise ValueError(f"upsampler must be 'pixelshuffle' or 'deconv', got {upsampler!r}")
        layers: list[nn.Module] = [nn.Conv2d(num_channels, d, 5, 1, 2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, 1, 1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        if upsampler == "pixelshuffle":
            self.last: nn.Module = nn.Sequential(nn.Conv2d(d, num_channels * scale * scale, 1), nn.PixelShuffle(scale))
        else:
            self.last = nn.ConvTranspose2d(d, num_channels, 9, scale, 4, output_padding=scale - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.body(x))


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
    w = sd.get("body.0.weight")
    return w is not None and w.shape[-1] == 5 and "body.1.weight" in sd and ("last.0.weight" in sd or "last.weight" in sd)


def _infer(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    d, c = sd["body.0.weight"].shape[:2]
    s = sd["body.2.weight"].shape[0]
    n_convs = sum(1 for k in sd if k.startswith("body.") and k.endswith(".bias"))
    if "last.0.weight" in sd:
        upsampler, scale = "pixelshuffle", int(round((sd["last.0.weight"].shape[0] / c) ** 0.5))
    else:
        upsampler, scale = "deconv", None
    if scale is None:
        raise ValueError("FSRCNN with a deconv upsampler: the scale cannot be inferred from the state dict; pass it")
    return dict(scale=scale, num_channels=c, d=d, s=s, m=n_convs - 3, upsampler=upsampler)


SPEC = ArchSpec(
    id="fsrcnn",
    name="FSRCNN (fast SR CNN, luma)",
    module=FSRCNN,
    defaults=dict(scale=4, num_channels=1, d=56, s=12, m=4, upsampler="pixelshuffle"),
    presets={"x2": dict(scale=2), "x3": dict(scale=3), "x4": dict(scale=4)},
    describe=_describe,
    detect=_detect,
    infer=_infer,
    license="Apache-2.0 (OpenCV dnn_superres weights); implementation qualedge",
    paper="Dong et al., FSRCNN (ECCV 2016)",
)
