"""The tile engine every Python restore path runs on, with a per-tile inference strategy.

decode -> pad (reflect, to the models' multiple) -> even tile plan with overlap -> the strategy scores every tile
(``route``: quality map, routing signal, decisions) -> per tile row: the strategy's inference (``infer_row``) -> fused
overlap blend of the finished output rows (raised-cosine window, optionally weighted by tile quality; normalise,
clamp, quantise in one kernel) -> crop -> luma/chroma recombination for luma models -> alpha (upscaled separately,
MATLAB bicubic) -> pixels.

Strategies: :class:`~qualedge.runtime.restorer.SRStrategy` (one SR model, or compact and heavy models routed per
tile) and :class:`~qualedge.runtime.diffusion_restorer.DiffusionStrategy` (AdaQual-Diff per tile with its quality
map). The engine owns geometry, memory and blending; a strategy owns only what runs on a tile.

Memory: only two tile rows of model outputs and the finished integer output are alive, so very large images stream
by rows of tiles.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from qualedge.errors import ConfigError, InferenceError
from qualedge.io import Image

BLENDS = ("auto", "c", "numpy", "triton")


class TileStrategy(Protocol):
    """What runs on the tiles of one image."""

    def route(self, row_crops: Callable[[int], np.ndarray], nr: int, nc: int, quality: np.ndarray, decisions: np.ndarray,
              times: dict[str, float]) -> None:  # fmt: skip
        """Score every tile before any is run: fill ``quality`` (rows, cols) and ``decisions`` (model index per tile)
        as the strategy needs; add its time to ``times["quality"]`` and ``times["router"]``."""

    def infer_row(self, i: int, crops: np.ndarray, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float],
                  outs: np.ndarray) -> int:  # fmt: skip
        """Fill ``outs`` (cols, C, th*s, tw*s) with the model outputs of tile row ``i`` (crops: (cols, C, th, tw));
        returns the number of tiles rerun in fp32."""


@dataclass(frozen=True)
class Geometry:
    """The tile geometry the engine pads and plans by (from the models' size requirements)."""

    scale: int
    in_channels: int  # 3 (RGB) or 1 (luma: chroma is upscaled bicubically)
    multiple: int
    minimum: int
    fixed: int | None  # fixed tile side (graphs with static shapes), else None
    tile: int
    overlap: int


@dataclass
class TileRun:
    """What one engine run produced, for the result and its summary."""

    pixels: np.ndarray  # (H*s, W*s, 3|4) uint8/uint16
    decisions: np.ndarray  # (rows, cols) model index per tile
    quality: np.ndarray  # (rows, cols) tile quality in [0, 1], NaN where not computed
    grid: tuple[int, int]
    tile: tuple[int, int]
    overlap: int
    fallbacks: int
    times: dict[str, float]


BlendFn = Callable[..., None]  # (ring, rows, cols, q, *, bits, out) -> None, writes into out


def choose_blend(kind: str, device: str = "cpu") -> tuple[BlendFn, str, str | None]:
    """(blend function writing into ``out``, its name, a note when ``auto`` fell back to NumPy)."""
    if kind not in BLENDS:
        raise ConfigError(f"blend must be one of {BLENDS}, got {kind!r}")

    def numpy_blend():
        from qualedge.runtime.blend.reference import blend_reference

        def run(tiles, rows, cols, q=None, *, bits=8, out):
            out[...] = blend_reference(tiles, rows, cols, q, bits=bits)

        return run

    if kind == "numpy":
        return numpy_blend(), "numpy", None
    if kind == "triton" or (kind == "auto" and device.startswith("cuda")):
        import torch
        from qualedge.runtime.blend.triton_kernel import blend_triton

        dev = "cuda" if torch.cuda.is_available() else "cpu"

        def run(tiles, rows, cols, q=None, *, bits=8, out):
            t = blend_triton(
                torch.from_numpy(tiles).to(dev),
                rows,
                cols,
                None if q is None else torch.from_numpy(q).to(dev),
                bits=bits,
            )
            out[...] = t.cpu().numpy().astype(out.dtype)

        return run, "triton", None
    try:
        from qualedge.runtime.blend.cpu import blend_cpu
        from qualedge.runtime.blend.window import axis_map

        m = axis_map([0], 2, 2)
        blend_cpu(np.zeros((1, 1, 1, 2, 2), np.float32), m, m)  # compile/load now, not mid-image

        def run(tiles, rows, cols, q=None, *, bits=8, out):
            blend_cpu(tiles, rows, cols, q, bits=bits, out=out)

        return run, "c", None
    except Exception as exc:
        if kind == "c":
            raise
        return numpy_blend(), "numpy", f"C blend unavailable ({exc}); using NumPy"


class TileEngine:
    """Run a :class:`TileStrategy` over an image's tiles with one geometry and one blend. Holds no per-image state,
    so one engine serves concurrent ``run`` calls when its strategy does."""

    def __init__(self, geometry: Geometry, strategy: TileStrategy, *, blend: str = "auto", device: str = "cpu",
                 quality_weighting: bool = False) -> None:  # fmt: skip
        self.geometry = geometry
        self.strategy = strategy
        self.quality_weighting = quality_weighting
        self.blend, self.blend_name, self.blend_note = choose_blend(blend, device)

    def run(self, image: Image) -> TileRun:
        from qualedge.runtime.blend.window import axis_map
        from qualedge.runtime.tiling import plan_tiles

        from qualedge.data.color import rgb_to_ycbcr_full, ycbcr_full_to_rgb
        from qualedge.data.resize import imresize
        from qualedge.io import quantize

        g = self.geometry
        t_start = time.perf_counter()
        times: dict[str, float] = {"quality": 0.0, "router": 0.0, "inference": 0.0, "blend": 0.0}
        s, h, w = g.scale, image.height, image.width
        luma_only = g.in_channels == 1
        src = image.rgb
        if luma_only:
            ycc = rgb_to_ycbcr_full(src)
            src = ycc[:, :, :1]
        ph = max(g.minimum, -(-h // g.multiple) * g.multiple) - h
        pw = max(g.minimum, -(-w // g.multiple) * g.multiple) - w
        if g.fixed:
            ph, pw = max(ph, g.fixed - h), max(pw, g.fixed - w)
        x = np.pad(src, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge") if (ph or pw) else src
        x = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)  # C, H, W
        H, W = x.shape[1:]
        plan = plan_tiles(H, W, g.tile, min(g.overlap, g.tile // 4), multiple_of=g.multiple, fixed=bool(g.fixed))
        th, tw = plan.rows.tile, plan.cols.tile
        cols = axis_map(plan.cols.starts, tw, W, scale=s)
        c_out = x.shape[0]
        bits = 16 if image.bit_depth == 16 else 8
        out = np.empty((H * s, W * s, c_out), np.uint8 if bits == 8 else np.uint16)
        nr, nc = plan.rows.count, plan.cols.count
        decisions = np.zeros((nr, nc), np.int8)
        quality = np.full((nr, nc), np.nan, np.float32)
        # the model outputs of two tile rows live in a ring: row i is written into slot i % 2 and blended from there
        ring = np.empty((2, nc, c_out, th * s, tw * s), np.float32)
        ring_q = np.ones((2, nc), np.float32)
        done = fallbacks = 0

        def row_crops(i: int) -> np.ndarray:
            band = x[:, plan.rows.starts[i] : plan.rows.starts[i] + th]
            return np.stack([band[:, :, x0 : x0 + tw] for x0 in plan.cols.starts])  # nc, C, th, tw

        self.strategy.route(row_crops, nr, nc, quality, decisions, times)  # every tile is scored before any is run
        for i in range(nr):
            fallbacks += self.strategy.infer_row(i, row_crops(i), quality, decisions, times, ring[i % 2])
            t0 = time.perf_counter()
            if self.quality_weighting:
                ring_q[i % 2] = quality[i]
            stop = plan.rows.starts[i + 1] * s if i + 1 < nr else H * s
            rows = axis_map(plan.rows.starts, th, H, scale=s, first=done, stop=stop)
            done = self._blend_band(
                rows, ring, ring_q if self.quality_weighting else None, i, cols, out, done, stop, bits
            )
            times["blend"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = out[: h * s, : w * s]
        if luma_only:
            y_up = result[:, :, 0].astype(np.float32) / (255.0 if bits == 8 else 65535.0)
            cbcr = np.clip(imresize(ycc[:, :, 1:], s), 0, 1)
            result = quantize(ycbcr_full_to_rgb(np.concatenate([y_up[:, :, None], cbcr], axis=2)), bits)
        if image.alpha is not None:
            a = quantize(np.clip(imresize(image.alpha, s), 0, 1), bits)
            result = np.concatenate([result, a[:, :, None]], axis=2)
        times["post"] = time.perf_counter() - t0
        times["total"] = time.perf_counter() - t_start
        return TileRun(
            np.ascontiguousarray(result), decisions, quality, (nr, nc), (th, tw), plan.overlap, fallbacks, times
        )

    def _blend_band(
        self, rows, ring: np.ndarray, ring_q: np.ndarray | None, i: int, cols, out, done: int, stop: int, bits: int
    ) -> int:
        """Blend output rows [done, stop), which only use tile rows i - 1 and i (ring slots (i - 1) % 2 and i % 2)."""
        if stop <= done:
            return done

        def slot(t: np.ndarray) -> np.ndarray:
            if ((t >= 0) & ((t < i - 1) | (t > i))).any():
                raise InferenceError("internal error: a blend band refers to a tile row that is no longer in memory")
            return np.where(t >= 0, t % 2, -1).astype(np.int32)

        local = dataclasses.replace(rows, tile0=slot(rows.tile0), tile1=slot(rows.tile1))
        self.blend(ring, local, cols, ring_q, bits=bits, out=out[done:stop])
        return stop


__all__ = ["BLENDS", "Geometry", "TileEngine", "TileRun", "TileStrategy", "choose_blend"]
