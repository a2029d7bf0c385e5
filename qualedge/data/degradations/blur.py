"""Gaussian blur; strength 1 = sigma 4 px."""

from __future__ import annotations

import numpy as np

MAX_SIGMA = 4.0


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    sigma = 0.3 + strength * (MAX_SIGMA - 0.3)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
