"""Low light: exposure reduction and gamma (darker, compressed shadows) plus signal-dependent sensor noise.

I = (k * J) ** g + n, k in [1, 0.2], g in [1, 1.6] with strength; n ~ N(0, a * I + b) (Poisson-Gaussian
approximation), which makes dark images noisy the way real sensors do.
"""

from __future__ import annotations

import numpy as np


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    k = 1.0 - 0.8 * strength
    g = 1.0 + 0.6 * strength
    dark = np.power(np.clip(img * k, 0.0, 1.0), g)
    var = 0.004 * strength * dark + (0.01 * strength) ** 2
    return dark + rng.normal(0.0, 1.0, img.shape).astype(np.float32) * np.sqrt(var).astype(np.float32)
