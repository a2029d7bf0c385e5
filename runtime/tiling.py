"""Tile plans: how an image is cut into overlapping tiles.

Even partition (as chaiNNer): first the number of tiles along an axis, n = ceil((L - overlap) / (tile - overlap)),
then one tile size for all of them, t = ceil((L + (n - 1) * overlap) / n) rounded up to the model's ``multiple_of``,
with starts spread evenly from 0 to L - t. Every tile has the same size (one engine shape, batchable), neighbours
overlap by at least ``overlap`` pixels, and the last tile ends exactly at the border. Fixed-tile models (window
attention) keep their tile size and only the starts are spread. Overlap is limited to half a tile so that a pixel
is covered by at most two tiles per axis (the blend kernels rely on it): with overlap <= tile/4 every planned tile is
longer than half the requested tile, hence at least twice the overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qualedge.errors import ConfigError


@dataclass(frozen=True)
class Axis:
    length: int
    tile: int
    starts: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.starts)


@dataclass(frozen=True)
class TilePlan:
    """Tiles of an image of (height, width); tile (i, j) covers rows ys[i]..ys[i]+th and columns xs[j]..xs[j]+tw."""

    rows: Axis
    cols: Axis
    overlap: int

    @property
    def n_tiles(self) -> int:
        return self.rows.count * self.cols.count

    def boxes(self) -> list[tuple[int, int, int, int]]:
        return [(y, x, y + self.rows.tile, x + self.cols.tile) for y in self.rows.starts for x in self.cols.starts]


def plan_axis(length: int, tile: int, overlap: int, *, multiple_of: int = 1, fixed: bool = False) -> Axis:
    if tile <= 0 or overlap < 0:
        raise ConfigError(f"tile must be positive and overlap non-negative, got tile={tile}, overlap={overlap}")
    if overlap * 4 > tile:
        raise ConfigError(f"overlap {overlap} is more than a quarter of the tile {tile}; use overlap <= {tile // 4}")
    if length <= tile:
        t = tile if fixed else -(-length // multiple_of) * multiple_of
        return Axis(length, t, (0,))
    n = math.ceil((length - overlap) / (tile - overlap))
    if fixed:
        t = tile
    else:
        t = math.ceil((length + (n - 1) * overlap) / n)
        t = -(-t // multiple_of) * multiple_of
    if n == 1:
        return Axis(length, t, (0,))
    step = (length - t) / (n - 1)
    starts = tuple(int(round(i * step)) for i in range(n))
    return Axis(length, t, starts)


def plan_tiles(height: int, width: int, tile: int, overlap: int, *, multiple_of: int = 1, fixed: bool = False) -> TilePlan:
    """Plan the tiles of a (height, width) image (already padded to the model's size requirements)."""
    return TilePlan(
        rows=plan_axis(height, tile, overlap, multiple_of=multiple_of, fixed=fixed),
        cols=plan_axis(width, tile, overlap, multiple_of=multiple_of, fixed=fixed),
        overlap=overlap,
    )
