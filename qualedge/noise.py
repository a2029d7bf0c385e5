"""The initial noise of a restoration tile, defined so that any runtime can draw it bit for bit.

Tile (row, col) of an image restored with ``seed`` starts from ``tile_noise(seed, row, col, shape)``: numpy's
``default_rng([seed, row, col])`` (SeedSequence -> PCG64) draws ``Generator.random()`` doubles (53-bit), pairs of
them become standard normal values by Box-Muller (u1 = 1 - first, u2 = second: r = sqrt(-2 ln u1); r cos(2 pi u2),
r sin(2 pi u2)), rounded to float32 and clipped to [-1, 1]. The native runtime (runtime/native/src/rng.cpp) computes
the same numbers, so the same seed gives the same output in both runtimes.
"""

from __future__ import annotations

import math

import numpy as np


def tile_noise(seed: int, row: int, col: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 noise of the given shape for tile (row, col) of an image restored with ``seed``."""
    n = math.prod(shape)
    m = (n + 1) // 2
    u = np.random.default_rng([int(seed), int(row), int(col)]).random(2 * m)
    r = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    a = 2.0 * math.pi * u[1::2]
    z = np.empty(2 * m, np.float64)
    z[0::2], z[1::2] = r * np.cos(a), r * np.sin(a)
    return np.clip(z[:n].astype(np.float32), -1.0, 1.0).reshape(shape)


__all__ = ["tile_noise"]
