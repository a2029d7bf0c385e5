"""Per-tile quality maps."""

from __future__ import annotations

import numpy as np
import pytest

from qualedge.data.degradations import degrade
from qualedge.errors import MetricError
from qualedge.io import read_image
from qualedge.iqa.quality_map import quality_map, tile_starts


def test_tile_starts_cover_and_align_to_the_border() -> None:
    assert tile_starts(300, 128, 128) == [0, 128, 172]
    assert tile_starts(256, 128, 64) == [0, 64, 128]
    assert tile_starts(100, 128, 128) == [0]


@pytest.fixture(scope="module")
def half_blurred(photo_path) -> np.ndarray:
    img = read_image(photo_path).rgb[:256, :384]
    out = img.copy()
    out[:, 192:] = degrade(img[:, 192:], "blur", 0.8, 0)
    return out


@pytest.mark.parametrize("metric", ["piqe", "qhead"])
def test_blurred_half_scores_lower(half_blurred: np.ndarray, metric: str) -> None:
    qm = quality_map(half_blurred, metric, tile=64)
    assert qm.quality.shape == (4, 6) and qm.quality.min() >= 0 and qm.quality.max() <= 1
    assert qm.quality[:, :3].mean() > qm.quality[:, 3:].mean() + 0.1
    assert qm.boxes[-1, -1].tolist() == [192, 320, 256, 384]
    assert qm.upsample(256, 384).shape == (256, 384)


def test_raw_scores_normalised_with_the_spec(half_blurred: np.ndarray) -> None:
    from qualedge.iqa.metrics import get_spec

    qm = quality_map(half_blurred, "piqe", tile=128, stride=64)
    import torch

    np.testing.assert_allclose(qm.quality, get_spec("piqe").normalize(torch.from_numpy(qm.raw)).numpy(), atol=1e-6)


def test_batched_equals_unbatched(half_blurred: np.ndarray) -> None:
    a = quality_map(half_blurred, "piqe", tile=64, batch=1)
    b = quality_map(half_blurred, "piqe", tile=64, batch=32)
    np.testing.assert_allclose(a.raw, b.raw, rtol=1e-6)


def test_dense_fast_path_matches_tile_by_tile(half_blurred: np.ndarray) -> None:
    from qualedge.iqa.metrics import create_metric

    m = create_metric("qhead")
    dense = quality_map(half_blurred, m, tile=128, stride=64)
    tiled = quality_map(half_blurred, m, tile=128, stride=64, dense=False)
    # the dense map sees context across tile borders, so values differ slightly but rank the same
    from scipy.stats import spearmanr

    assert np.abs(dense.quality - tiled.quality).mean() < 0.08
    assert spearmanr(dense.quality.ravel(), tiled.quality.ravel()).correlation > 0.8


def test_errors(half_blurred: np.ndarray) -> None:
    with pytest.raises(MetricError, match="no-reference"):
        quality_map(half_blurred, "psnr")
    with pytest.raises(MetricError, match="at least 96"):
        quality_map(half_blurred, "niqe", tile=64)
    with pytest.raises(MetricError, match="no dense"):
        quality_map(half_blurred, "piqe", tile=64, dense=True)
    with pytest.raises(MetricError, match="smaller than the tile"):
        quality_map(half_blurred[:50, :50], "piqe", tile=64)


def test_blockiness_sees_a_16_pixel_grid(photo_path) -> None:
    import numpy as np

    from qualedge.io import read_image
    from qualedge.iqa.blockiness import blockiness

    img = read_image(photo_path).rgb[:128, :128]
    base = blockiness(img)
    blocky = img.reshape(8, 16, 8, 16, 3).mean(axis=(1, 3), keepdims=True).repeat(16, 1).repeat(16, 3).reshape(128, 128, 3)
    mixed = 0.7 * img + 0.3 * blocky
    assert 0.8 < base < 1.3 and blockiness(mixed) > 1.3 * base
    assert np.isnan(blockiness(np.zeros((64, 64, 3))))
