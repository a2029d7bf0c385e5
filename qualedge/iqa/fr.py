"""Full-reference PSNR and SSIM (torch, batched), with the conventions of the SR literature spelled out.

Colour conventions (``color``):
- ``"rgb"``: all three channels (SSIM: mean over channels).
- ``"y"``: luma of MATLAB ``rgb2ycbcr`` (studio range, Y in [16, 235]), as SR papers report "Y-PSNR/SSIM".
- ``"grey"``: BT.601 full-range luma rounded to 8 bits (MATLAB ``rgb2gray`` of a uint8 image), the convention of
  Wang et al.'s reference SSIM and of the calibration scores in pyiqa's ResultsCalibra.

``crop_border`` removes that many pixels on every side (SR evaluation crops ``scale`` pixels). ``quantize`` rounds
inputs to 8 bits first, as evaluating saved PNGs does. SSIM: 11x11 Gaussian window (sigma 1.5), 'valid' filtering,
K1 = 0.01, K2 = 0.03, dynamic range 255.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_Y_MATLAB = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_Y_601 = (0.299, 0.587, 0.114)
COLORS = ("rgb", "y", "grey")


def _prepare(x: torch.Tensor, color: str, crop_border: int, quantize: bool) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> float64 on the 0-255 scale in the requested colour convention."""
    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    x = x.to(torch.float64)
    if quantize:
        x = torch.floor(x.clamp(0, 1) * 255 + 0.5) / 255
    if x.shape[1] == 3 and color == "y":
        w = torch.tensor(_Y_MATLAB, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = ((x * w).sum(1, keepdim=True) + 16.0 / 255.0) * 255.0
    elif x.shape[1] == 3 and color == "grey":
        w = torch.tensor(_Y_601, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = torch.round((x * w).sum(1, keepdim=True) * 255.0)
    else:
        x = x * 255.0
    if crop_border:
        x = x[..., crop_border:-crop_border, crop_border:-crop_border]
    return x


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"images must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) tensors, got {tuple(x.shape)}")


def psnr(x: torch.Tensor, ref: torch.Tensor, *, color: str = "rgb", crop_border: int = 0, quantize: bool = False) -> torch.Tensor:
    """PSNR in dB per image, (N,). Identical images give inf."""
    _check(x, ref)
    a, b = _prepare(x, color, crop_border, quantize), _prepare(ref, color, crop_border, quantize)
    mse = ((a - b) ** 2).flatten(1).mean(1)
    return 10.0 * torch.log10(255.0**2 / mse)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, ref: torch.Tensor, *, color: str = "grey", crop_border: int = 0, quantize: bool = False) -> torch.Tensor:
    """SSIM per image, (N,); channel mean for ``color="rgb"``."""
    _check(x, ref)
    a, b = _prepare(x, color, crop_border, quantize), _prepare(ref, color, crop_border, quantize)
    c = a.shape[1]
    w = _gauss().to(a.device)[None, None].repeat(c, 1, 1, 1)

    def f(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=c)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return m.flatten(2).mean(2).mean(1)


def _np(a: np.ndarray) -> torch.Tensor:
    a = np.asarray(a, dtype=np.float64)
    return torch.from_numpy(a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None].copy())


def psnr_np(img: np.ndarray, ref: np.ndarray, *, color: str = "rgb", crop_border: int = 0, quantize: bool = False) -> float:
    """:func:`psnr` for two HxW or HxWx3 numpy images in [0, 1]."""
    return float(psnr(_np(img), _np(ref), color=color, crop_border=crop_border, quantize=quantize)[0])


def ssim_np(img: np.ndarray, ref: np.ndarray, *, color: str = "grey", crop_border: int = 0, quantize: bool = False) -> float:
    """:func:`ssim` for two HxW or HxWx3 numpy images in [0, 1]."""
    return float(ssim(_np(img), _np(ref), color=color, crop_border=crop_border, quantize=quantize)[0])
