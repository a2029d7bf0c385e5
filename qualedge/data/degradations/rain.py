"""Rain: streak layers added to the scene, as in the additive rain model I = J + sum_k S_k.

Each layer is sparse random drops smeared along one direction (a motion kernel of length L and angle theta,
slightly varying per layer), so streaks are thin, bright, semi-transparent and mostly parallel; light scattered by
the rain also veils the scene a little. strength 1 = dense, long, bright streaks (3 layers).
"""

from __future__ import annotations

import math

import numpy as np


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        x, y = int(round(c + t * math.cos(angle))), int(round(c + t * math.sin(angle)))
        k[y, x] = 1.0
    return k / k.sum()


def streak_layer(h: int, w: int, density: float, length: int, angle: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    drops = (rng.random((h, w)) < density).astype(np.float32) * rng.uniform(0.6, 1.0, (h, w)).astype(np.float32)
    drops = cv2.GaussianBlur(drops, (0, 0), 0.5)
    layer = cv2.filter2D(drops, -1, _motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
    return np.clip(layer * length * 0.6, 0, 1)


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    base_angle = math.radians(90 + rng.uniform(-25, 25))  # near vertical
    rain = np.zeros((h, w), np.float32)
    for _ in range(1 + int(round(2 * strength))):
        length = int(round(5 + 25 * strength * rng.uniform(0.6, 1.0))) | 1
        density = 0.002 + 0.01 * strength * rng.uniform(0.5, 1.0)
        angle = base_angle + math.radians(rng.uniform(-4, 4))
        rain = np.maximum(rain, streak_layer(h, w, density, length, angle, rng) * (0.5 + 0.5 * strength))
    veil = 0.08 * strength
    out = img * (1 - veil) + veil * 0.85
    return out + rain[:, :, None] * (1 - out) * 0.9
