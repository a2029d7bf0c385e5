"""Image degradations with a strength in [0, 1] (0 = none, 1 = the strongest setting), seeded and deterministic.

Each operator is one small module with ``apply(img, strength, rng) -> img`` on float32 HxWx3 RGB in [0, 1]. The
explicit list below is the registry; ``graded`` makes a set of increasingly degraded copies with a known order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qualedge.data.degradations import blur, downscale, haze, jpeg, lowlight, noise, rain, snow

Op = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

OPS: dict[str, Op] = {
    "blur": blur.apply,
    "noise": noise.apply,
    "jpeg": jpeg.apply,
    "downscale": downscale.apply,
    "haze": haze.apply,
    "lowlight": lowlight.apply,
    "rain": rain.apply,
    "snow": snow.apply,
}


def degrade(img: np.ndarray, op: str, strength: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Apply one operator. ``strength`` is clipped to [0, 1]; 0 returns the image unchanged."""
    if op not in OPS:
        raise KeyError(f"unknown degradation {op!r}; choose one of {sorted(OPS)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    s = float(np.clip(strength, 0.0, 1.0))
    if s == 0.0:
        return img.astype(np.float32, copy=True)
    return np.clip(OPS[op](img.astype(np.float32), s, rng), 0.0, 1.0).astype(np.float32)


def graded(img: np.ndarray, op: str, levels: int, seed: int = 0) -> list[np.ndarray]:
    """``levels`` copies at strengths (1..levels)/levels: quality decreases along the list by construction."""
    return [degrade(img, op, (i + 1) / levels, seed) for i in range(levels)]
