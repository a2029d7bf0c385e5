"""Blend windows and the per-pixel gather maps that the fused kernels consume.

Along each axis a pixel is covered by one or two tiles. A tile's weight is 1 in its interior and follows a
raised-cosine (Hann) ramp across the part it shares with a neighbour; the ramp never reaches 0, so every pixel keeps
a positive total weight. Weights are normalised per pixel, so uneven overlaps (from rounding) still blend without
seams. For each output row (and column) an :class:`AxisMap` gives the first covering tile, the offset inside it and
its weight, and the same for the second tile (tile -1 when there is none). The 2-D weight of a sample is the product
of its row and column weights, optionally times a per-tile quality weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qualedge.errors import InferenceError


@dataclass(frozen=True)
class AxisMap:
    tile0: np.ndarray  # int32 (L,)
    off0: np.ndarray  # int32 (L,)
    w0: np.ndarray  # float32 (L,)
    tile1: np.ndarray  # int32 (L,), -1 when one tile covers the pixel
    off1: np.ndarray  # int32 (L,)
    w1: np.ndarray  # float32 (L,)

    def __len__(self) -> int:
        return len(self.tile0)


def ramp(n: int) -> np.ndarray:
    """Raised-cosine ramp of length n rising from just above 0 to just below 1 (symmetric: ramp + reversed = 1)."""
    if n <= 0:
        return np.zeros(0, np.float32)
    t = (np.arange(n, dtype=np.float64) + 0.5) / n
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def tile_weights(starts: Sequence[int], size: int, index: int) -> np.ndarray:
    """Weights over tile ``index`` (length ``size``): ramps only where it overlaps its neighbours."""
    w = np.ones(size, np.float32)
    s = starts[index]
    if index > 0:
        ov = starts[index - 1] + size - s
        if ov > 0:
            w[:ov] = np.minimum(w[:ov], ramp(ov))
    if index < len(starts) - 1:
        ov = s + size - starts[index + 1]
        if ov > 0:
            w[size - ov :] = np.minimum(w[size - ov :], ramp(ov)[::-1])
    return w


def axis_map(starts: Sequence[int], size: int, length: int, *, scale: int = 1, first: int = 0, stop: int | None = None) -> AxisMap:
    """Gather map for output positions [first, stop) of an axis of ``length`` input pixels upscaled by ``scale``.

    Tiles start at ``starts`` (input pixels) and have ``size`` input pixels; output tile size is size * scale.
    """
    out_len = length * scale
    stop = out_len if stop is None else stop
    sz = size * scale
    st = [s * scale for s in starts]
    weights = [tile_weights(st, sz, i) for i in range(len(st))]
    n = stop - first
    t0 = np.full(n, -1, np.int32)
    t1 = np.full(n, -1, np.int32)
    o0 = np.zeros(n, np.int32)
    o1 = np.zeros(n, np.int32)
    w0 = np.zeros(n, np.float32)
    w1 = np.zeros(n, np.float32)
    pos = np.arange(first, stop)
    for i, s in enumerate(st):
        lo, hi = max(s, first), min(s + sz, stop)
        if lo >= hi:
            continue
        idx = np.arange(lo, hi) - first
        free0 = t0[idx] < 0
        a, b = idx[free0], idx[~free0]
        t0[a], o0[a], w0[a] = i, pos[a] - s, weights[i][pos[a] - s]
        if len(b):
            if np.any(t1[b] >= 0):
                raise InferenceError("a pixel is covered by more than two tiles; the overlap is too large for the tile")
            t1[b], o1[b], w1[b] = i, pos[b] - s, weights[i][pos[b] - s]
    if np.any(t0 < 0):
        raise InferenceError("the tile plan leaves output pixels uncovered")
    return AxisMap(t0, o0, w0, t1, o1, w1)
