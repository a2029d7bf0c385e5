"""The fused blend on the CPU: ``runtime/csrc/blend.c`` through cffi (OpenMP over rows)."""

from __future__ import annotations

import numpy as np

CDEF = """
void qe_blend_u8(const float *tiles, int R, int NC, int C, int TH, int TW,
                 const int *rt0, const int *ro0, const float *rw0, const int *rt1, const int *ro1, const float *rw1, int nrows,
                 const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1, const float *cw1, int W,
                 const float *q, uint8_t *out, long out_row_stride, int bgr);
void qe_blend_u16(const float *tiles, int R, int NC, int C, int TH, int TW,
                  const int *rt0, const int *ro0, const float *rw0, const int *rt1, const int *ro1, const float *rw1, int nrows,
                  const int *ct0, const int *co0, const float *cw0, const int *ct1, const int *co1, const float *cw1, int W,
                  const float *q, uint16_t *out, long out_row_stride, int bgr);
"""


def _lib():
    from qualedge.runtime.native import load_extension

    return load_extension("blend", CDEF, "blend.c")


def blend_cpu(tiles: np.ndarray, rows, cols, q: np.ndarray | None = None, *, bits: int = 8, bgr: bool = False, out: np.ndarray | None = None) -> np.ndarray:
    ext = _lib()
    ffi, lib = ext.ffi, ext.lib
    tiles = np.ascontiguousarray(tiles, dtype=np.float32)
    r_n, nc, c, th, tw = tiles.shape
    if c > 4:
        raise ValueError(f"the blend kernel handles at most 4 channels, got {c}")
    dtype = np.uint8 if bits == 8 else np.uint16
    if out is None:
        out = np.empty((len(rows), len(cols), c), dtype)
    if out.dtype != dtype or out.shape[1:] != (len(cols), c) or out.shape[0] != len(rows) or out.strides[1:] != (c * out.itemsize, out.itemsize):
        raise ValueError("out must be (rows, W, C) of the right dtype with contiguous pixels")

    def p(a: np.ndarray, t: str):
        return ffi.cast(t, a.ctypes.data)

    keep = [np.ascontiguousarray(a) for a in (rows.tile0, rows.off0, rows.w0, rows.tile1, rows.off1, rows.w1, cols.tile0, cols.off0, cols.w0, cols.tile1, cols.off1, cols.w1)]
    types = ["int *", "int *", "float *"] * 4
    args = [p(a, t) for a, t in zip(keep, types)]
    qkeep = None if q is None else np.ascontiguousarray(q, dtype=np.float32)  # kept alive during the call
    qp = ffi.NULL if qkeep is None else p(qkeep, "float *")
    fn = lib.qe_blend_u8 if bits == 8 else lib.qe_blend_u16
    fn(
        p(tiles, "float *"), r_n, nc, c, th, tw, *args[:6], len(rows), *args[6:], len(cols), qp,
        ffi.cast("uint8_t *" if bits == 8 else "uint16_t *", out.ctypes.data), out.strides[0] // out.itemsize, int(bgr),
    )  # fmt: skip
    return out
