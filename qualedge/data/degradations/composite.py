"""CDD-11 composite degradations: low light, haze, rain, snow and their combinations.

The 11 types of CDD-11 (OneRestore): low, haze, rain, snow, low_haze, low_rain, low_snow, haze_rain, haze_snow,
low_haze_rain, low_haze_snow. Components are applied in physical order: haze (scene, depth-dependent scattering),
then rain or snow (particles in front of the scene), then low light (the sensor: exposure, gamma, noise). Each
component's strength is drawn in [0.5, 1] x ``strength`` so that composites vary; the whole is seeded.
"""

from __future__ import annotations

import numpy as np

from qualedge.data.degradations import haze, lowlight, rain, snow

TYPES = ("low", "haze", "rain", "snow", "low_haze", "low_rain", "low_snow", "haze_rain", "haze_snow", "low_haze_rain", "low_haze_snow")
_ORDER = (("haze", haze.apply), ("rain", rain.apply), ("snow", snow.apply), ("low", lowlight.apply))


def composite(img: np.ndarray, kind: str, seed: int | np.random.Generator = 0, strength: float = 1.0) -> np.ndarray:
    """Apply composite degradation ``kind`` (one of TYPES) to an (H, W, 3) float image in [0, 1]."""
    if kind not in TYPES:
        raise KeyError(f"unknown composite degradation {kind!r}; choose one of {TYPES}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    parts = set(kind.split("_"))
    out = img.astype(np.float32)
    for name, fn in _ORDER:
        if name in parts:
            s = float(np.clip(strength * rng.uniform(0.5, 1.0), 0, 1))
            out = np.clip(fn(out, s, rng), 0, 1).astype(np.float32)
    return out
