"""The canonical in-memory image that every qualedge stage passes around."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qualedge.io.metadata import PhotoMetadata


def to_float(a: np.ndarray) -> np.ndarray:
    """uint8/uint16 samples -> float32 in [0, 1]; the one conversion every reader uses (so all paths agree bit for bit)."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) * np.float32(1.0 / 255.0)
    if a.dtype == np.uint16:
        return a.astype(np.float32) * np.float32(1.0 / 65535.0)
    raise ValueError(f"to_float takes uint8 or uint16, got {a.dtype}")


@dataclass
class Image:
    """An image in qualedge's one canonical form.

    Attributes:
        rgb: float32 array of shape (H, W, 3), RGB, values in [0, 1]. Grey inputs are replicated to three channels.
        alpha: float32 array of shape (H, W) in [0, 1], or None when the source had no alpha channel. The toolchain
            carries it through unchanged (super-resolution upscales it separately).
        bit_depth: 8 or 16: the sample depth of the source, so that writing back keeps the precision.
        grey: True when the source was single-channel (with or without alpha); writers then write grey again.
        path: the file the image was read from, if any.
        exif_orientation: the EXIF orientation tag that was applied on reading (1 means none).
        photo: the file's ICC profile, EXIF, XMP and resolution (qualedge.io.metadata), which outputs keep; None for
            images not read from a file.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grey: bool = False
    path: Path | None = None
    exif_orientation: int = 1
    meta: dict = field(default_factory=dict)
    photo: PhotoMetadata | None = None

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[2] != 3:
            raise ValueError(f"Image.rgb must have shape (H, W, 3), got {self.rgb.shape}")
        if self.rgb.dtype != np.float32:
            raise ValueError(f"Image.rgb must be float32, got {self.rgb.dtype}")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[:2]:
            raise ValueError(f"Image.alpha must have shape {self.rgb.shape[:2]}, got {self.alpha.shape}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"Image.bit_depth must be 8 or 16, got {self.bit_depth}")

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def has_alpha(self) -> bool:
        return self.alpha is not None

    @property
    def mode(self) -> str:
        """PIL-style mode of the source: L, LA, RGB or RGBA."""
        base = "L" if self.grey else "RGB"
        return base + ("A" if self.alpha is not None else "")

    def with_pixels(self, rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image:
        """A copy with new pixels (for example the super-resolved ones), keeping depth, greyness and path."""
        return replace(self, rgb=np.ascontiguousarray(rgb, dtype=np.float32), alpha=alpha)

    @classmethod
    def from_array(cls, array: np.ndarray, *, bit_depth: int | None = None) -> Image:
        """Build an Image from an HxW, HxWx3 or HxWx4 array: uint8, uint16, or float in [0, 1]."""
        a = np.asarray(array)
        if a.dtype in (np.uint8, np.uint16):
            depth, f = (8 if a.dtype == np.uint8 else 16), to_float(a)
        elif np.issubdtype(a.dtype, np.floating):
            depth, f = 8, a.astype(np.float32)
        else:
            raise ValueError(f"unsupported array dtype {a.dtype}: use uint8, uint16 or float in [0, 1]")
        if bit_depth is not None:
            depth = bit_depth
        grey = f.ndim == 2 or (f.ndim == 3 and f.shape[2] in (1, 2))
        if f.ndim == 2:
            f = f[:, :, None]
        if f.ndim != 3 or f.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"array must be HxW, HxWx1..4; got shape {a.shape}")
        alpha = None
        if f.shape[2] in (2, 4):
            alpha = np.ascontiguousarray(f[:, :, -1])
            f = f[:, :, :-1]
        rgb = np.repeat(f, 3, axis=2) if f.shape[2] == 1 else f
        return cls(rgb=np.ascontiguousarray(rgb), alpha=alpha, bit_depth=depth, grey=grey)
