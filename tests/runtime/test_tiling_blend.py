"""Tile plans, blend windows, and the fused blend kernels against the NumPy reference."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from qualedge.runtime.blend.reference import blend_reference
from qualedge.runtime.blend.window import axis_map, ramp, tile_weights
from qualedge.runtime.tiling import plan_axis, plan_tiles

from qualedge.errors import ConfigError


@pytest.mark.parametrize("length,tile,overlap", [(300, 128, 16), (1200, 1024, 16), (37, 16, 4), (100, 128, 16), (513, 64, 8), (129, 128, 32)])
def test_even_partition(length: int, tile: int, overlap: int) -> None:
    ax = plan_axis(length, tile, overlap)
    assert ax.starts[0] == 0 and ax.starts[-1] + ax.tile == max(length, ax.tile)
    assert ax.tile <= max(tile, length if length <= tile else tile)
    for a, b in zip(ax.starts, ax.starts[1:]):
        ov = a + ax.tile - b
        assert overlap <= ov <= ax.tile // 2, (a, b, ov)


def test_even_tiles_not_leftovers() -> None:
    ax = plan_axis(1200, 1024, 0)
    assert ax.tile == 600 and ax.starts == (0, 600)  # two even tiles, not 1024 + 176


def test_multiple_of_and_fixed() -> None:
    assert plan_axis(300, 128, 16, multiple_of=8).tile % 8 == 0
    fixed = plan_axis(150, 64, 8, fixed=True)
    assert fixed.tile == 64 and fixed.starts[-1] == 150 - 64
    with pytest.raises(ConfigError, match="quarter of the tile"):
        plan_axis(300, 64, 32)


def test_windows_partition_unity_and_positive() -> None:
    r = ramp(16)
    np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-6)
    w = tile_weights([0, 48, 96], 64, 1)
    assert w.min() > 0 and w[16:48].min() == 1.0
    m = axis_map([0, 48, 96], 64, 160, scale=2)
    assert len(m) == 320 and (m.tile0 >= 0).all()
    total = m.w0 + np.where(m.tile1 >= 0, m.w1, 0)
    assert total.min() > 0.5


def _case(rng, h: int, w: int, tile: int, overlap: int, scale: int, c: int):
    plan = plan_tiles(h, w, tile, overlap)
    tiles = (rng.random((plan.rows.count, plan.cols.count, c, plan.rows.tile * scale, plan.cols.tile * scale), dtype=np.float32) * 1.4 - 0.2)
    rows = axis_map(plan.rows.starts, plan.rows.tile, h, scale=scale)
    cols = axis_map(plan.cols.starts, plan.cols.tile, w, scale=scale)
    q = rng.random((plan.rows.count, plan.cols.count), dtype=np.float32) + 0.05
    return tiles, rows, cols, q


CASES = [(37, 53, 16, 4, 2, 3), (29, 31, 12, 3, 1, 4), (64, 17, 20, 5, 4, 1), (5, 7, 8, 2, 3, 3)]


@pytest.mark.parametrize("h,w,tile,overlap,scale,c", CASES)
@pytest.mark.parametrize("bits", [8, 16])
def test_c_kernel_matches_numpy(h, w, tile, overlap, scale, c, bits) -> None:
    from qualedge.runtime.blend.cpu import blend_cpu

    rng = np.random.default_rng(h * w)
    tiles, rows, cols, q = _case(rng, h, w, tile, overlap, scale, c)
    for qq in (None, q):
        for bgr in (False, True):
            ref = blend_reference(tiles, rows, cols, qq, bits=bits, bgr=bgr).astype(np.int64)
            got = blend_cpu(tiles, rows, cols, qq, bits=bits, bgr=bgr).astype(np.int64)
            assert np.abs(ref - got).max() <= (0 if bits == 8 else 1)  # 16-bit: float32 vs float64 rounding


def test_blending_a_constant_image_is_exact() -> None:
    from qualedge.runtime.blend.cpu import blend_cpu

    plan = plan_tiles(50, 70, 24, 6)
    tiles = np.full((plan.rows.count, plan.cols.count, 3, plan.rows.tile, plan.cols.tile), 0.5, np.float32)
    out = blend_cpu(tiles, axis_map(plan.rows.starts, plan.rows.tile, 50), axis_map(plan.cols.starts, plan.cols.tile, 70))
    assert (out == 128).all()


def test_triton_kernel_matches_numpy_under_the_interpreter() -> None:
    pytest.importorskip("triton", reason="triton is not installed")
    code = r"""
import numpy as np, torch
from qualedge.runtime.blend.reference import blend_reference
from qualedge.runtime.blend.triton_kernel import blend_triton
from qualedge.runtime.blend.window import axis_map
from qualedge.runtime.tiling import plan_tiles
rng = np.random.default_rng(3)
for (h, w, tile, ov, s, c) in [(21, 29, 12, 3, 2, 3), (9, 13, 8, 2, 1, 4)]:
    plan = plan_tiles(h, w, tile, ov)
    tiles = rng.random((plan.rows.count, plan.cols.count, c, plan.rows.tile * s, plan.cols.tile * s), dtype=np.float32) * 1.4 - 0.2
    rows = axis_map(plan.rows.starts, plan.rows.tile, h, scale=s); cols = axis_map(plan.cols.starts, plan.cols.tile, w, scale=s)
    q = rng.random((plan.rows.count, plan.cols.count), dtype=np.float32) + 0.05
    for qq in (None, q):
        ref = blend_reference(tiles, rows, cols, qq, bgr=True)
        got = blend_triton(torch.from_numpy(tiles), rows, cols, None if qq is None else torch.from_numpy(qq), bgr=True, block=128).numpy()
        assert np.array_equal(ref, got), (h, w, np.abs(ref.astype(int) - got.astype(int)).max())
print("triton ok")
"""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and "triton ok" in r.stdout, r.stdout + r.stderr[-2000:]
