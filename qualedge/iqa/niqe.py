"""NIQE: Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE SPL 2013). Lower is better.

Follows the authors' MATLAB release (``computequality.m``, ``computefeature.m``, ``estimateaggdparam.m``):
1. grey image on the 0-255 scale (MATLAB ``rgb2gray`` of an 8-bit image, rounded), cropped to whole 96x96 blocks;
2. at two scales (the second a MATLAB-bicubic half-size copy), MSCN coefficients with a 7x7 Gaussian (sigma 7/6)
   and C = 1; per block (96 px, then 48 px) 18 features: an AGGD fit of the coefficients [alpha, mean beta], and
   for the four neighbour products (circular shifts within the block) [alpha, mean, beta_left, beta_right];
3. the multivariate Gaussian of the image's block features against the pristine model:
   ``sqrt((mu_p - mu_d) pinv((S_p + S_d)/2) (mu_p - mu_d)^T)``.

The pristine model is the official LIVE one (``modelparameters.mat``: ``mu_prisparam``, ``cov_prisparam``), or one
fitted by :func:`fit_pristine_model` (``qualedge iqa fit-niqe``) on the user's own pristine images.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge.data.resize import imresize_torch
from qualedge.errors import MetricError
from qualedge.iqa.nss import aggd_fit, blocks, gamma_fn, mscn, nan_mean_cov, rgb_to_grey_matlab

BLOCK = 96
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def _block_features(b: torch.Tensor) -> torch.Tensor:
    """(M, s, s) MSCN blocks -> (M, 18) NIQE features."""
    m = b.shape[0]
    flat = b.reshape(m, -1)
    alpha, ls, rs = aggd_fit(flat)
    k = torch.sqrt(gamma_fn(1 / alpha) / gamma_fn(3 / alpha))
    feats = [alpha, (ls * k + rs * k) / 2]
    for dr, dc in _SHIFTS:
        pair = (b * torch.roll(b, shifts=(dr, dc), dims=(1, 2))).reshape(m, -1)
        a, l_std, r_std = aggd_fit(pair)
        kk = torch.sqrt(gamma_fn(1 / a) / gamma_fn(3 / a))
        bl, br = l_std * kk, r_std * kk
        feats += [a, (br - bl) * gamma_fn(2 / a) / gamma_fn(1 / a), bl, br]
    return torch.stack(feats, dim=1)


def niqe_features(grey: torch.Tensor, block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """Block features (N, nBlocks, 36) and block sharpness (N, nBlocks) of (N, 1, H, W) grey images on 0-255."""
    n, _, h, w = grey.shape
    bh, bw = h // block, w // block
    if bh == 0 or bw == 0:
        raise MetricError(f"NIQE needs images of at least {block}x{block} pixels; got {h}x{w}. Use a larger tile.")
    im = grey[:, :, : bh * block, : bw * block].to(torch.float64)
    per_scale, sharp = [], None
    for scale in (1, 2):
        coeff, sigma = mscn(im, c=1.0)
        s = block // scale
        b = blocks(coeff, s)  # N, nb, s*s
        nb = b.shape[1]
        per_scale.append(_block_features(b.reshape(n * nb, s, s)).reshape(n, nb, 18))
        if scale == 1:
            sharp = blocks(sigma, block).mean(-1)
        im = imresize_torch(im, 0.5)
    assert sharp is not None
    return torch.cat(per_scale, dim=2), sharp


def load_pristine_model(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``mu_prisparam`` (36,) and ``cov_prisparam`` (36, 36) from a .mat (official) or .npz (qualedge/BasicSR)."""
    path = Path(path)
    if not path.is_file():
        raise MetricError(f"NIQE pristine model {path} not found.")
    try:
        if path.suffix == ".mat":
            from scipy.io import loadmat

            d = loadmat(str(path))
        else:
            d = dict(np.load(path))
        mu = np.asarray(d["mu_prisparam"], dtype=np.float64).reshape(-1)
        cov = np.asarray(d["cov_prisparam"], dtype=np.float64)
    except (KeyError, ValueError, OSError) as exc:
        raise MetricError(
            f"{path}: not a NIQE pristine model (needs mu_prisparam and cov_prisparam): {exc}"
        ) from exc
    if mu.shape != (36,) or cov.shape != (36, 36):
        raise MetricError(f"{path}: NIQE model shapes {mu.shape}/{cov.shape}, expected (36,) and (36, 36)")
    return mu, cov


class NIQE(nn.Module):
    """NIQE for (N, 3, H, W) RGB or (N, 1, H, W) grey images in [0, 1]; returns (N,) scores (lower is better).

    NaN for an image whose statistics are undefined (a flat image has no negative or positive MSCN coefficients).
    """

    def __init__(self, *, mu: np.ndarray, cov: np.ndarray, block: int = BLOCK) -> None:
        super().__init__()
        self.block = block
        self.register_buffer("mu", torch.as_tensor(mu, dtype=torch.float64), persistent=False)
        self.register_buffer("cov", torch.as_tensor(cov, dtype=torch.float64), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grey = rgb_to_grey_matlab(x.to(torch.float64)) if x.shape[1] == 3 else torch.round(x.to(torch.float64) * 255)
        feats, _ = niqe_features(grey, self.block)
        scores = []
        for f in feats:
            mu_d, cov_d = nan_mean_cov(f)
            if torch.isnan(mu_d).any():  # e.g. a flat image: the AGGD fit is undefined, so is NIQE (MATLAB: NaN)
                scores.append(torch.tensor(float("nan"), dtype=torch.float64))
                continue
            if torch.isnan(cov_d).any():  # no block without NaN features: no spread estimate, use the pristine one
                cov_d = torch.zeros_like(cov_d)
            diff = (self.mu - mu_d)[None]
            inv = torch.linalg.pinv((self.cov + cov_d) / 2)
            scores.append(torch.sqrt((diff @ inv @ diff.T).squeeze()))
        return torch.stack(scores).to(x.dtype if x.dtype.is_floating_point else torch.float32)


def fit_pristine_model(images: Iterable[torch.Tensor], *, sharpness_threshold: float = 0.75, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray, int]:
    """Fit NIQE's pristine model as the authors' ``estimatemodelparam.m``: per image, keep the blocks whose local
    sharpness exceeds ``sharpness_threshold`` times the image's sharpest block; the model is the mean and covariance
    of all kept block features. Returns (mu, cov, number of blocks used).
    """
    kept = []
    for x in images:
        x = x if x.ndim == 4 else x[None]
        grey = rgb_to_grey_matlab(x.to(torch.float64)) if x.shape[1] == 3 else torch.round(x.to(torch.float64) * 255)
        if min(grey.shape[-2:]) < block:
            continue
        feats, sharp = niqe_features(grey, block)
        for f, s in zip(feats, sharp):
            kept.append(f[s > sharpness_threshold * s.max()])
    if not kept:
        raise MetricError(f"no image of at least {block}x{block} pixels to fit the NIQE model on")
    allf = torch.cat(kept)
    mu, cov = nan_mean_cov(allf)
    return mu.numpy(), cov.numpy(), int(allf.shape[0])
