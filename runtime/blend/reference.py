"""Plain NumPy blend: the reference the fused kernels are tested against (and the fall-back without a compiler).

``tiles``: (R, NC, C, TH, TW) float32, the output tiles of R tile rows with NC tiles each. ``rows`` maps the output rows
to finalise onto those R rows, ``cols`` maps every output column onto the NC tiles. ``q``: optional (R, NC) tile
weights. Returns (nrows, W, C) uint8 or uint16: weighted mean, clamped to [0, 1], scaled and rounded half up.
"""

from __future__ import annotations

import numpy as np


def blend_reference(tiles: np.ndarray, rows, cols, q: np.ndarray | None = None, *, bits: int = 8, bgr: bool = False) -> np.ndarray:
    r_n, nc, c, th, tw = tiles.shape
    acc = np.zeros((len(rows), len(cols), c), np.float64)
    wsum = np.zeros((len(rows), len(cols)), np.float64)
    qq = np.ones((r_n, nc), np.float32) if q is None else q
    for rt, ro, rw in ((rows.tile0, rows.off0, rows.w0), (rows.tile1, rows.off1, rows.w1)):
        for ct, co, cw in ((cols.tile0, cols.off0, cols.w0), (cols.tile1, cols.off1, cols.w1)):
            valid = (rt[:, None] >= 0) & (ct[None, :] >= 0)
            r_i, c_i = np.clip(rt, 0, None), np.clip(ct, 0, None)
            w = rw[:, None] * cw[None, :] * qq[r_i[:, None], c_i[None, :]] * valid
            sample = tiles[r_i[:, None], c_i[None, :], :, ro[:, None], co[None, :]]  # (rows, W, C)
            acc += w[..., None] * sample
            wsum += w
    v = np.clip(acc / wsum[..., None], 0.0, 1.0)
    maxv = 255.0 if bits == 8 else 65535.0
    out = np.floor(v * maxv + 0.5).astype(np.uint8 if bits == 8 else np.uint16)
    if bgr and c >= 3:  # swap R and B, keep alpha last (BGR / BGRA)
        out = out[..., [2, 1, 0, *range(3, c)]].copy()
    return out
