"""Tile routing between the compact and the heavy SR model: routing scores and the two ways to route.

Routing is a budget, not a guess:

- **fraction** (``heavy_fraction=F``): the ``ceil(F * N)`` tiles with the highest routing score go to the heavy model
  (ties keep tile order): any budget above 0 sends at least one tile, so a one-tile image gets the heavy model too.
  F = 0 is the compact-only output and F = 1 the heavy-only output, exactly.
- **threshold** (``threshold=T``): tiles whose quality (the bundle's quality head, [0, 1], higher is better) is below T
  go to the heavy model; the number of heavy tiles then depends on the image.

The ``random`` policy spends the same fraction on tiles drawn by a seeded generator: the control that every routing
claim is measured against.

Routing scores (higher = the heavy model is expected to change the tile more), computed on the LR tile:

- ``gain``: a learned gain head in the bundle (role ``router``) that predicts log10 of the mean squared difference
  between the heavy and the compact model's output (``qualedge train-router``);
- ``quality``: 1 - the quality head's score (low quality first);
- ``gradient``: mean squared luma gradient (central differences);
- ``variance``: mean luma variance over 8x8 blocks;
- ``edges``: share of pixels whose luma gradient magnitude exceeds 0.1.

The statistics are registered in :data:`STATISTICS`; ``train-router`` measures all of them against the true benefit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qualedge.errors import ConfigError

MODES = ("fraction", "threshold")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _luma(tiles: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, H, W) luma (a 1-channel input is already luma)."""
    if tiles.shape[1] == 1:
        return tiles[:, 0].astype(np.float32)
    return np.tensordot(_LUMA, tiles[:, :3].astype(np.float32), axes=([0], [1]))


def _grad2(y: np.ndarray) -> np.ndarray:
    gx = np.zeros_like(y)
    gy = np.zeros_like(y)
    gx[:, :, 1:-1] = (y[:, :, 2:] - y[:, :, :-2]) * 0.5
    gy[:, 1:-1] = (y[:, 2:] - y[:, :-2]) * 0.5
    return gx * gx + gy * gy


def gradient_energy(tiles: np.ndarray) -> np.ndarray:
    return _grad2(_luma(tiles)).mean(axis=(1, 2))


def block_variance(tiles: np.ndarray, block: int = 8) -> np.ndarray:
    y = _luma(tiles)
    n, h, w = y.shape
    hb, wb = max(1, h // block), max(1, w // block)
    b = min(block, h, w)
    y = y[:, : hb * b, : wb * b].reshape(n, hb, b, wb, b)
    return y.var(axis=(2, 4)).mean(axis=(1, 2))


def edge_density(tiles: np.ndarray, level: float = 0.1) -> np.ndarray:
    return (_grad2(_luma(tiles)) > level * level).mean(axis=(1, 2))


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gradient": gradient_energy,
    "variance": block_variance,
    "edges": edge_density,
}
SIGNALS = ("gain", "quality", *STATISTICS)


def heavy_count(n_tiles: int, fraction: float) -> int:
    """ceil(F * N) (with a 1e-9 tolerance, so that F = 1/3 of 6 tiles is 2, not 3)."""
    return int(np.ceil(fraction * n_tiles - 1e-9))


def check_fraction(fraction: float, what: str = "heavy_fraction") -> float:
    f = float(fraction)
    if not np.isfinite(f) or f < 0 or f > 1:
        raise ConfigError(f"{what} must be a number in [0, 1] (the share of tiles sent to the heavy model), got {fraction!r}")
    return f


def route_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask (same shape as ``scores``): the ceil(F * N) highest scores, ties in tile order."""
    flat = np.asarray(scores, np.float64).ravel()
    k = heavy_count(flat.size, fraction)
    mask = np.zeros(flat.size, bool)
    if k:
        order = np.argsort(-np.nan_to_num(flat, nan=-np.inf), kind="stable")
        mask[order[:k]] = True
    return mask.reshape(np.shape(scores))


def route_random(shape: tuple[int, ...], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of ceil(F * N) tiles drawn without replacement by ``numpy.random.default_rng(seed)``."""
    n = int(np.prod(shape))
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[: heavy_count(n, fraction)]] = True
    return mask.reshape(shape)


def route_threshold(quality: np.ndarray, threshold: float) -> np.ndarray:
    """Heavy where the tile quality is below ``threshold``."""
    return np.asarray(quality) < threshold
