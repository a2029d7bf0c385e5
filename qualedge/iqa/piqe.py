"""PIQE: Perception-based Image Quality Evaluator (Venkatanath et al., NCC 2015). Lower is better, range 0-100.

Needs no trained parameters, so it is qualedge's fully offline NR metric. Steps (as MATLAB's ``piqe``):
1. grey (ITU-R BT.601 luma), rescaled so that the image maximum is 255 and rounded; padded to whole 16x16 blocks
   (symmetric, after the image);
2. MSCN coefficients (7x7 Gaussian, sigma 7/6, C = 1, replicate borders);
3. per 16x16 block: variance (active if > 0.1); a *noticeable distortion* when any 6-pixel segment of the block's
   four edges has a standard deviation < 0.1; *noise* when the block's sigma exceeds twice beta, the relative
   difference between sigma and the centre-to-surround deviation of the two middle columns;
4. score = (sum over active blocks of [distorted * (1 - var) + noisy * var] + 1) / (number of active blocks + 1) * 100.

``piqe_block_map`` returns the per-block distortion scores, which make a 16-pixel-resolution quality map.
"""

from __future__ import annotations

import torch
from torch import nn

from qualedge.iqa.nss import mscn

BLOCK = 16
ACTIVITY_THRESHOLD = 0.1
IMPAIRED_THRESHOLD = 0.1
SEGMENT = 6


def _grey(x: torch.Tensor) -> torch.Tensor:
    x = x.to(torch.float64)
    if x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x * w).sum(1, keepdim=True)
    peak = x.flatten(1).max(1).values.clamp_min(1e-12).view(-1, 1, 1, 1)
    return torch.round(255.0 * x / peak)


def _pad_to_blocks(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % BLOCK, (-w) % BLOCK
    if ph or pw:
        # symmetric ('post') padding: mirror including the edge sample
        x = torch.cat([x, x.flip(-2)[..., :ph, :]], dim=-2) if ph else x
        x = torch.cat([x, x.flip(-1)[..., :pw]], dim=-1) if pw else x
    return x


def piqe_block_map(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-block (distortion score, active) maps of shape (N, H/16, W/16) for (N, C, H, W) images in [0, 1]."""
    g = _pad_to_blocks(_grey(x))
    n, _, hp, wp = g.shape
    coeff, _ = mscn(g, c=1.0)
    b = coeff[:, 0].unfold(1, BLOCK, BLOCK).unfold(2, BLOCK, BLOCK)  # N, bh, bw, 16, 16
    bh, bw = b.shape[1], b.shape[2]
    b = b.reshape(n, bh * bw, BLOCK, BLOCK)
    var = b.var(dim=(-2, -1), unbiased=True)
    active = var > ACTIVITY_THRESHOLD

    # noise criterion: centre-surround deviation. The centre is the two middle columns (7 and 8, 0-based); the
    # reference implementation deletes column 7 and then column 8 *of the shortened block* (original 9), so the
    # surround keeps original column 8. Kept as is: it is what the published scores were computed with.
    c1 = BLOCK // 2 - 1
    centre = b[..., c1 : c1 + 2]
    surround = torch.cat([b[..., :c1], b[..., c1 + 1 : c1 + 2], b[..., c1 + 3 :]], dim=-1)
    csd = torch.nan_to_num(centre.std(dim=(-2, -1), unbiased=True) / surround.std(dim=(-2, -1), unbiased=True))
    sigma = var.sqrt()
    beta = (sigma - csd).abs() / torch.maximum(sigma, csd)
    noisy = sigma > 2 * beta

    # noticeable distortion: a flat 6-pixel segment on any edge of the block
    edges = torch.stack([b[..., 0, :], b[..., :, BLOCK - 1], b[..., BLOCK - 1, :], b[..., :, 0]], dim=2)  # N,B,4,16
    seg_std = edges.unfold(-1, SEGMENT, 1).std(dim=-1, unbiased=True)
    impaired = (seg_std < IMPAIRED_THRESHOLD).any(-1).any(-1)

    score = active.double() * (impaired.double() * (1 - var) + noisy.double() * var)
    return score.reshape(n, bh, bw), active.reshape(n, bh, bw)


def piqe(x: torch.Tensor) -> torch.Tensor:
    """PIQE scores (N,) for (N, C, H, W) images in [0, 1]."""
    score, active = piqe_block_map(x)
    total = score.flatten(1).sum(1)
    n_active = active.flatten(1).sum(1).double()
    return ((total + 1.0) / (n_active + 1.0) * 100.0).to(torch.float32)


class PIQE(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return piqe(x)


__all__ = ["PIQE", "piqe", "piqe_block_map"]
