"""Degradation operators: seeded, strength 0 is identity, quality falls with strength."""

from __future__ import annotations

import numpy as np
import pytest

from qualedge.data.degradations import OPS, degrade, graded
from qualedge.io import read_image


@pytest.fixture(scope="module")
def img(photo_path) -> np.ndarray:
    return read_image(photo_path).rgb[:128, :160]


@pytest.mark.parametrize("op", sorted(OPS))
def test_seeded_identity_and_monotone(img: np.ndarray, op: str) -> None:
    np.testing.assert_array_equal(degrade(img, op, 0.0), img)
    a, b = degrade(img, op, 0.5, 7), degrade(img, op, 0.5, 7)
    np.testing.assert_array_equal(a, b)
    levels = graded(img, op, 3, seed=1)
    err = [float(np.mean((lv - img) ** 2)) for lv in levels]
    assert all(e1 < e2 for e1, e2 in zip(err, err[1:])), (op, err)
    assert all(lv.dtype == np.float32 and lv.min() >= 0 and lv.max() <= 1 for lv in levels)


def test_unknown_op() -> None:
    with pytest.raises(KeyError, match="unknown degradation"):
        degrade(np.zeros((4, 4, 3), np.float32), "fog", 0.5)
