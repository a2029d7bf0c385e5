"""Natural-scene-statistics building blocks shared by NIQE, BRISQUE and PIQE (torch, batched, CPU or GPU).

- ``gaussian_window``: MATLAB ``fspecial('gaussian', 7, 7/6)``.
- ``mscn``: mean-subtracted contrast-normalised coefficients (im - mu) / (sigma + c), local statistics from the
  Gaussian window with replicate borders (MATLAB ``imfilter(..., 'replicate')``).
- ``aggd_fit`` / ``ggd_fit``: moment-matching fits of the (asymmetric) generalised Gaussian, with the shape
  parameter chosen on the grid 0.2:0.001:10 exactly as the reference MATLAB code does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_GAMMA_GRID = torch.arange(200, 10001, dtype=torch.float64) / 1000.0  # 0.2 .. 10.0 step 0.001


def _lgamma(x: torch.Tensor) -> torch.Tensor:
    return torch.lgamma(x)


_R_AGGD = torch.exp(2 * _lgamma(2 / _GAMMA_GRID) - _lgamma(1 / _GAMMA_GRID) - _lgamma(3 / _GAMMA_GRID))
_R_GGD = torch.exp(_lgamma(1 / _GAMMA_GRID) + _lgamma(3 / _GAMMA_GRID) - 2 * _lgamma(2 / _GAMMA_GRID))


def gaussian_window(size: int = 7, sigma: float = 7 / 6, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    ax = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    w = torch.outer(g, g)
    return w / w.sum()


def filter2d(x: torch.Tensor, window: torch.Tensor, padding: str = "replicate") -> torch.Tensor:
    """Correlate (N, 1, H, W) with a small symmetric window, 'same' output size."""
    k = window.shape[-1] // 2
    xp = F.pad(x, (k, k, k, k), mode=padding)
    return F.conv2d(xp, window.to(x.dtype).to(x.device)[None, None])


def mscn(x: torch.Tensor, c: float = 1.0, window: torch.Tensor | None = None, padding: str = "replicate") -> tuple[torch.Tensor, torch.Tensor]:
    """Return (MSCN coefficients, local sigma) of (N, 1, H, W) images."""
    w = gaussian_window(dtype=x.dtype) if window is None else window
    mu = filter2d(x, w, padding)
    sigma = torch.sqrt(torch.abs(filter2d(x * x, w, padding) - mu * mu))
    return (x - mu) / (sigma + c), sigma


def _grid_pick(table: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grid value whose table entry is closest to each target (first minimum, like MATLAB's min)."""
    t = table.to(target.device)
    d = (t[None, :] - target[:, None]) ** 2
    return _GAMMA_GRID.to(target.device)[torch.argmin(d, dim=1)]


def aggd_fit(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit an asymmetric generalised Gaussian to each row of ``v`` (B, N).

    Returns (alpha, left_std, right_std) as float64 tensors of shape (B,). Rows without negative (or positive)
    values give NaN, as the reference code would.
    """
    v = v.to(torch.float64)
    neg, pos = v < 0, v > 0
    left_std = torch.sqrt((v * v * neg).sum(1) / neg.sum(1))
    right_std = torch.sqrt((v * v * pos).sum(1) / pos.sum(1))
    gamma_hat = left_std / right_std
    r_hat = v.abs().mean(1) ** 2 / (v * v).mean(1)
    r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    alpha = _grid_pick(_R_AGGD, r_hat_norm)
    return alpha, left_std, right_std


def ggd_fit(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit a symmetric generalised Gaussian to each row of ``v`` (B, N): (shape, std)."""
    v = v.to(torch.float64)
    sigma_sq = (v * v).mean(1)
    rho = sigma_sq / v.abs().mean(1) ** 2
    t = _R_GGD.to(v.device)
    shape = _GAMMA_GRID.to(v.device)[torch.argmin((t[None, :] - rho[:, None]).abs(), dim=1)]
    return shape, torch.sqrt(sigma_sq)


def gamma_fn(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(torch.lgamma(x))


def rgb_to_grey_matlab(x: torch.Tensor, *, round_to_uint8: bool = True) -> torch.Tensor:
    """MATLAB ``rgb2gray`` of (N, 3, H, W) in [0, 1], returned on the 0-255 scale (rounded like uint8 output)."""
    w = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=x.dtype, device=x.device)
    g = (x * 255.0 * w.view(1, 3, 1, 1)).sum(1, keepdim=True)
    return torch.round(g) if round_to_uint8 else g


def blocks(x: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 1, H, W) -> (N, nBlocks, size*size), non-overlapping, row-major block order, remainder dropped."""
    n = x.shape[0]
    b = x[:, 0].unfold(1, size, size).unfold(2, size, size)  # N, bh, bw, size, size
    return b.reshape(n, -1, size * size)


def nan_mean_cov(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``nanmean`` and ``nancov`` over rows of (B, D): rows with any NaN are dropped (MATLAB 'complete rows')."""
    mu = torch.nanmean(feat, 0)  # per column, like MATLAB nanmean
    ok = ~torch.isnan(feat).any(1)
    f = feat[ok]  # nancov uses complete rows only
    if f.shape[0] == 0:
        d = feat.shape[1]
        return mu, torch.full((d, d), math.nan, dtype=feat.dtype)
    c = f - f.mean(0)
    cov = c.T @ c / max(f.shape[0] - 1, 1)
    return mu, cov
