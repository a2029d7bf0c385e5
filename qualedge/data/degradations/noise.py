"""Additive white Gaussian noise; strength 1 = sigma 50/255. Channel-independent (colour noise)."""

from __future__ import annotations

import numpy as np

MAX_SIGMA = 50.0 / 255.0


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    sigma = strength * MAX_SIGMA
    return img + rng.normal(0.0, sigma, img.shape).astype(np.float32)
