"""Per-tile quality maps for any metric.

``quality_map(image, metric, tile, stride)`` scores a grid of tiles and returns them on one documented scale:
**quality in [0, 1], higher is better**, obtained with the metric's ``MetricSpec.normalize`` (its ``norm_range``
mapped linearly to [0, 1], flipped for lower-is-better metrics, clamped). Raw scores are returned as well.

Tiles start every ``stride`` pixels; the last row and column of tiles are aligned to the image border so that every
pixel is covered. Tiles are scored in batches. Metrics with a dense form (the quality head and PIQE, which are
computed on a fixed 16-pixel cell grid) take a fast path: one pass over the whole image, then average pooling of
the cell map over each tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from qualedge.errors import MetricError


@dataclass
class QualityMap:
    """Attributes:
    quality: (rows, cols) float32 in [0, 1], higher is better.
    raw: (rows, cols) float32 raw metric scores (NaN where a dense metric has no raw equivalent).
    boxes: (rows, cols, 4) int boxes (y0, x0, y1, x1) of each tile in the image.
    tile, stride: the grid.
    metric: the metric id.
    """

    quality: np.ndarray
    raw: np.ndarray
    boxes: np.ndarray
    tile: int
    stride: int
    metric: str

    def upsample(self, height: int, width: int) -> np.ndarray:
        """Quality per pixel (bilinear between tile centres), for weighting and visualisation."""
        q = torch.from_numpy(self.quality)[None, None]
        return F.interpolate(q, size=(height, width), mode="bilinear", align_corners=False)[0, 0].numpy()


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets covering [0, length): every ``stride``, the last one aligned to the end."""
    if tile >= length:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def _as_tensor(image) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        t = image if image.ndim == 4 else image[None]
    else:
        a = np.asarray(getattr(image, "rgb", image), dtype=np.float32)
        t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    if t.shape[0] != 1 or t.shape[1] != 3:
        raise MetricError(f"quality_map takes one RGB image (H, W, 3) or (1, 3, H, W); got {tuple(t.shape)}")
    return t.float()


def quality_map(
    image, metric, *, tile: int = 128, stride: int | None = None, batch: int = 16, device: str = "cpu", dense: bool | None = None
) -> QualityMap:
    """Score a tile grid of ``image`` with ``metric`` (an id or a created metric). See the module docstring.

    ``dense``: None uses the one-pass path when the metric has one; False forces tile-by-tile scoring.
    """
    from qualedge.iqa.metrics import Metric, create_metric, get_spec

    spec = metric.spec if isinstance(metric, Metric) else get_spec(metric)  # checked before any weights are loaded
    if spec.mode != "NR":
        raise MetricError(f"quality maps need a no-reference metric; {spec.id} is full-reference")
    stride = stride or tile
    if tile < spec.min_size:
        raise MetricError(f"{spec.id} needs tiles of at least {spec.min_size} px; got tile={tile}")
    m = metric if isinstance(metric, Metric) else create_metric(metric, device=device)
    x = _as_tensor(image)
    _, _, h, w = x.shape
    if min(h, w) < tile:
        raise MetricError(f"image {w}x{h} is smaller than the tile ({tile}); use a smaller tile")
    ys, xs = tile_starts(h, tile, stride), tile_starts(w, tile, stride)
    boxes = np.array([[(y, x0, y + tile, x0 + tile) for x0 in xs] for y in ys], dtype=np.int64)

    cell_map = getattr(m.net, "cell_map", None) if dense is not False else None
    if dense and cell_map is None:
        raise MetricError(f"{m.spec.id} has no dense (one-pass) form")
    if cell_map is not None:
        cell = int(getattr(m.net, "cell", 16))
        with torch.inference_mode():
            qcell = cell_map(x.to(m.device)).float().cpu()  # (1, 1, ceil(h/cell), ceil(w/cell)), quality in [0, 1]
        up = F.interpolate(qcell, scale_factor=cell, mode="nearest")[..., :h, :w]
        integral = F.pad(up[0, 0].double().cumsum(0).cumsum(1), (1, 0, 1, 0))
        y0, x0, y1, x1 = (torch.from_numpy(boxes[..., i]) for i in range(4))
        sums = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
        q = (sums / (tile * tile)).float().numpy()
        raw = np.full_like(q, np.nan)
        return QualityMap(q.astype(np.float32), raw.astype(np.float32), boxes, tile, stride, m.spec.id)

    crops = torch.stack([x[0, :, b[0] : b[2], b[1] : b[3]] for b in boxes.reshape(-1, 4)])
    scores = torch.cat([m(crops[i : i + batch]).float().cpu() for i in range(0, len(crops), batch)])
    q = m.spec.normalize(scores)
    return QualityMap(
        q.reshape(len(ys), len(xs)).numpy().astype(np.float32),
        scores.reshape(len(ys), len(xs)).numpy().astype(np.float32),
        boxes,
        tile,
        stride,
        m.spec.id,
    )
