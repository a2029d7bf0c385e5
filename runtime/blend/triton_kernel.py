"""The fused blend as a Triton kernel (CUDA; runs on the CPU under ``TRITON_INTERPRET=1`` for tests).

One program per block of output pixels gathers up to four overlapping tile samples, weights them (row window x
column window x optional tile quality), normalises, clamps, quantises and writes packed RGB/BGR in one pass: no
accumulation buffers, no atomics, deterministic. Inputs are torch tensors on one device (CUDA normally).
"""

from __future__ import annotations

import torch


def _kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def blend_kernel(
        tiles, NC, TH, TW,
        rt0, ro0, rw0, rt1, ro1, rw1, nrows,
        ct0, co0, cw0, ct1, co1, cw1, W,
        q, out, out_row_stride,
        C: tl.constexpr, HAS_Q: tl.constexpr, BGR: tl.constexpr, MAXV: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        mask = offs < nrows * W
        y = offs // W
        x = offs % W
        plane = TH * TW
        acc0 = tl.zeros((BLOCK,), dtype=tl.float32)
        acc1 = tl.zeros((BLOCK,), dtype=tl.float32)
        acc2 = tl.zeros((BLOCK,), dtype=tl.float32)
        acc3 = tl.zeros((BLOCK,), dtype=tl.float32)
        wsum = tl.zeros((BLOCK,), dtype=tl.float32)
        for a in tl.static_range(2):
            if a == 0:
                rt = tl.load(rt0 + y, mask=mask, other=-1)
                ro = tl.load(ro0 + y, mask=mask, other=0)
                rw = tl.load(rw0 + y, mask=mask, other=0.0)
            else:
                rt = tl.load(rt1 + y, mask=mask, other=-1)
                ro = tl.load(ro1 + y, mask=mask, other=0)
                rw = tl.load(rw1 + y, mask=mask, other=0.0)
            for b in tl.static_range(2):
                if b == 0:
                    ct = tl.load(ct0 + x, mask=mask, other=-1)
                    co = tl.load(co0 + x, mask=mask, other=0)
                    cw = tl.load(cw0 + x, mask=mask, other=0.0)
                else:
                    ct = tl.load(ct1 + x, mask=mask, other=-1)
                    co = tl.load(co1 + x, mask=mask, other=0)
                    cw = tl.load(cw1 + x, mask=mask, other=0.0)
                valid = mask & (rt >= 0) & (ct >= 0)
                t = tl.where(valid, rt * NC + ct, 0)
                w = tl.where(valid, rw * cw, 0.0)
                if HAS_Q:
                    w = w * tl.load(q + t, mask=valid, other=0.0)
                base = t.to(tl.int64) * (C * plane) + ro * TW + co
                acc0 += w * tl.load(tiles + base, mask=valid, other=0.0).to(tl.float32)
                if C > 1:
                    acc1 += w * tl.load(tiles + base + plane, mask=valid, other=0.0).to(tl.float32)
                if C > 2:
                    acc2 += w * tl.load(tiles + base + 2 * plane, mask=valid, other=0.0).to(tl.float32)
                if C > 3:
                    acc3 += w * tl.load(tiles + base + 3 * plane, mask=valid, other=0.0).to(tl.float32)
                wsum += w
        inv = 1.0 / tl.where(wsum > 0, wsum, 1.0)
        obase = y.to(tl.int64) * out_row_stride + x * C
        for c in tl.static_range(C):
            if c == 0:
                v = acc0
            elif c == 1:
                v = acc1
            elif c == 2:
                v = acc2
            else:
                v = acc3
            v = tl.minimum(tl.maximum(v * inv, 0.0), 1.0)
            dst = c
            if BGR:
                if c < 3:
                    dst = 2 - c
            qv = (v * MAXV + 0.5).to(tl.int32)
            tl.store(out + obase + dst, qv.to(out.dtype.element_ty), mask=mask)

    return blend_kernel


_KERNEL = None


def blend_triton(tiles: torch.Tensor, rows, cols, q: torch.Tensor | None = None, *, bits: int = 8, bgr: bool = False, block: int = 1024) -> torch.Tensor:
    """Same contract as :func:`runtime.blend.reference.blend_reference`, on torch tensors (the maps are moved over)."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = _kernel()
    dev = tiles.device
    r_n, nc, c, th, tw = tiles.shape
    if c > 4:
        raise ValueError(f"the blend kernel handles at most 4 channels, got {c}")

    def t(a, dt):
        return torch.as_tensor(a, dtype=dt, device=dev).contiguous()

    i32, f32 = torch.int32, torch.float32
    rm = [t(rows.tile0, i32), t(rows.off0, i32), t(rows.w0, f32), t(rows.tile1, i32), t(rows.off1, i32), t(rows.w1, f32)]
    cm = [t(cols.tile0, i32), t(cols.off0, i32), t(cols.w0, f32), t(cols.tile1, i32), t(cols.off1, i32), t(cols.w1, f32)]
    out = torch.empty((len(rows), len(cols), c), dtype=torch.uint8 if bits == 8 else torch.int32, device=dev)
    qq = t(q, f32) if q is not None else torch.ones(1, dtype=f32, device=dev)
    n = len(rows) * len(cols)
    grid = ((n + block - 1) // block,)
    _KERNEL[grid](
        tiles.contiguous(), nc, th, tw, *rm, len(rows), *cm, len(cols), qq, out, out.stride(0),
        C=c, HAS_Q=q is not None, BGR=bgr, MAXV=255.0 if bits == 8 else 65535.0, BLOCK=block,
    )  # fmt: skip
    return out if bits == 8 else out.to(torch.int32)
