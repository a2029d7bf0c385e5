"""JPEG compression; strength 0 -> quality 95, strength 1 -> quality 5."""

from __future__ import annotations

import numpy as np


def quality_for(strength: float) -> int:
    return int(round(95 - strength * 90))


def apply(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    import cv2

    u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality_for(strength)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode the image")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0
