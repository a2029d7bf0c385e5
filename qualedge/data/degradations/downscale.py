"""Detail loss by down- and up-scaling (MATLAB bicubic); strength 1 = factor 6."""

from __future__ import annotations

import numpy as np

from qualedge.data.resize import imresize

MAX_FACTOR = 6.0


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    f = 1.0 + strength * (MAX_FACTOR - 1.0)
    small = imresize(img, size=(max(1, round(h / f)), max(1, round(w / f))))
    return imresize(np.clip(small, 0, 1), size=(h, w))
