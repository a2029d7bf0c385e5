"""Haze by the atmospheric scattering model I = J t + A (1 - t), t = exp(-beta d).

Without a depth sensor, the depth proxy d in [0, 1] combines the vertical position (scene points higher in a
photo tend to be farther away) with smoothed brightness (bright, low-detail regions such as sky tend to be far),
d = 0.6 * (1 - y/H) + 0.4 * blur(luma); it is smooth, so haze varies gradually. strength 1 = beta 2.5.
The airlight A is a bright, slightly blue-grey colour drawn per image.
"""

from __future__ import annotations

import numpy as np

MAX_BETA = 2.5


def depth_proxy(img: np.ndarray) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    vertical = np.repeat(1.0 - np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None], w, axis=1)
    luma = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    k = max(3, (min(h, w) // 8) | 1)
    smooth = cv2.GaussianBlur(luma, (k, k), 0)
    return np.clip(0.6 * vertical + 0.4 * smooth, 0.0, 1.0)


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    beta = strength * MAX_BETA
    t = np.exp(-beta * depth_proxy(img))[:, :, None]
    a = np.float32(rng.uniform(0.75, 0.95))
    airlight = np.array([a, a, min(1.0, a + rng.uniform(0.0, 0.05))], dtype=np.float32)
    return img * t + airlight * (1.0 - t)
