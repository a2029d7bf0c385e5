"""Snow: particle layers composited over the scene (I = J (1 - a) + a * white), plus a light veil.

Flakes are drawn per layer with a size that shrinks with depth (near layers: large, soft, motion-smeared flakes;
far layers: small sharp ones); alpha mattes come from Gaussian blobs. strength 1 = heavy snowfall (4 layers).
"""

from __future__ import annotations

import math

import numpy as np


def particle_layer(h: int, w: int, count: int, radius: float, blur: float, angle: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    alpha = np.zeros((h, w), np.float32)
    ys, xs = rng.integers(0, h, count), rng.integers(0, w, count)
    for y, x in zip(ys, xs):
        r = max(1, int(round(radius * rng.uniform(0.6, 1.4))))
        cv2.circle(alpha, (int(x), int(y)), r, float(rng.uniform(0.6, 1.0)), -1, lineType=cv2.LINE_AA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.4, radius * 0.4))
    if blur > 0:
        length = max(3, int(blur)) | 1
        k = np.zeros((length, length), np.float32)
        c = (length - 1) / 2
        for t in np.linspace(-c, c, 3 * length):
            k[int(round(c + t * math.sin(angle))), int(round(c + t * math.cos(angle)))] = 1
        alpha = cv2.filter2D(alpha, -1, k / k.sum())
    return np.clip(alpha, 0, 1)


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    area = h * w / (256 * 256)
    alpha = np.zeros((h, w), np.float32)
    angle = math.radians(rng.uniform(60, 120))
    for depth in range(1 + int(round(3 * strength))):
        near = 1.0 - depth / 4
        count = int(area * (30 + 120 * strength) * (1 + depth))
        a = particle_layer(h, w, count, radius=0.8 + 2.5 * near * strength, blur=6 * near * strength, angle=angle, rng=rng)
        alpha = 1 - (1 - alpha) * (1 - a)
    veil = 0.1 * strength
    out = img * (1 - veil) + veil * 0.9
    return out * (1 - alpha[:, :, None]) + alpha[:, :, None] * 0.95
