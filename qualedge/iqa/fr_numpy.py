"""Full-reference PSNR and SSIM on numpy images, with the SR literature's conventions.

Conventions (as BasicSR / MATLAB evaluation scripts): images in [0, 1] (quantised to 8 bits first when
``quantize=True``), ``crop_border`` pixels removed on every side, and optionally the Y channel of MATLAB's
``rgb2ycbcr`` (``y_channel=True``). SSIM is Wang et al.'s: 11x11 Gaussian window (sigma 1.5), K1=0.01, K2=0.03,
on the 0-255 scale, averaged over channels.
"""

from __future__ import annotations

import numpy as np

from qualedge.data.color import rgb_to_y


def _prepare(img: np.ndarray, crop_border: int, y_channel: bool, quantize: bool) -> np.ndarray:
    a = np.asarray(img, dtype=np.float64)
    if quantize:
        a = np.floor(np.clip(a, 0, 1) * 255.0 + 0.5) / 255.0
    if y_channel and a.ndim == 3 and a.shape[2] == 3:
        a = rgb_to_y(a.astype(np.float32)).astype(np.float64)
    if crop_border:
        a = a[crop_border:-crop_border, crop_border:-crop_border, ...]
    return a


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")


def psnr(
    img: np.ndarray, ref: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, quantize: bool = False
) -> float:
    """PSNR in dB (peak 1.0). Identical images give ``inf``."""
    _check(np.asarray(img), np.asarray(ref))
    a, b = _prepare(img, crop_border, y_channel, quantize), _prepare(ref, crop_border, y_channel, quantize)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _gauss_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size) - size // 2
    g = np.exp(-(ax**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    win = _gauss_window()

    def f(x: np.ndarray) -> np.ndarray:  # 'valid' filtering, as MATLAB's ssim_index
        return cv2.filter2D(x, -1, win)[5:-5, 5:-5]

    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


def ssim(
    img: np.ndarray, ref: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, quantize: bool = False
) -> float:
    """SSIM (Wang et al. 2004) on the 0-255 scale; channel average for colour images."""
    _check(np.asarray(img), np.asarray(ref))
    a = _prepare(img, crop_border, y_channel, quantize) * 255.0
    b = _prepare(ref, crop_border, y_channel, quantize) * 255.0
    if a.ndim == 2:
        return _ssim_plane(a, b)
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))
