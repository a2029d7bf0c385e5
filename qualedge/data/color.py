"""Colour conversions used by SR metrics and luma-only models (ITU-R BT.601, as MATLAB's rgb2ycbcr)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# MATLAB rgb2ycbcr for RGB in [0, 1]: Y in [16, 235] / 255
_Y_MATLAB = np.array([65.481, 128.553, 24.966], dtype=np.float32) / 255.0
_Y_FULL = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def rgb_to_y(rgb: np.ndarray, *, matlab: bool = True) -> np.ndarray:
    """Luma of an (..., 3) RGB array in [0, 1]. ``matlab=True``: studio range like rgb2ycbcr (Y in [16, 235]/255)."""
    if matlab:
        return rgb @ _Y_MATLAB + np.float32(16.0 / 255.0)
    return rgb @ _Y_FULL


def rgb_to_ycbcr_full(rgb: np.ndarray) -> np.ndarray:
    """Full-range YCbCr (JPEG/OpenCV convention), all channels in [0, 1]."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = (b - y) * 0.564 + 0.5
    cr = (r - y) * 0.713 + 0.5
    return np.stack([y, cb, cr], axis=-1).astype(np.float32)


def ycbcr_full_to_rgb(ycc: np.ndarray) -> np.ndarray:
    y, cb, cr = ycc[..., 0], ycc[..., 1] - 0.5, ycc[..., 2] - 0.5
    r = y + 1.403 * cr
    g = y - 0.714 * cr - 0.344 * cb
    b = y + 1.773 * cb
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def rgb_to_y_torch(x: torch.Tensor, *, matlab: bool = True) -> torch.Tensor:
    """Luma of an (N, 3, H, W) tensor in [0, 1], differentiable."""
    import torch

    w = torch.as_tensor(_Y_MATLAB if matlab else _Y_FULL, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    y = (x * w).sum(dim=1, keepdim=True)
    return y + 16.0 / 255.0 if matlab else y
