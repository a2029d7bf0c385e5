"""What every stage needs to know about a model, in one typed object (spandrel's idea, made strict).

``export/`` and ``runtime/`` read these fields; they never re-derive them from the module. Torch-free: the runtime
reads descriptors from bundle manifests without PyTorch (the architectures' ``ArchSpec`` lives in
``qualedge.archs.descriptor``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Tiling(str, Enum):
    """How a model may be run tile by tile."""

    SUPPORTED = "supported"  # convolutional: any tile works; overlap hides border effects
    DISCOURAGED = "discouraged"  # works, but global context matters (seams more likely)
    FIXED = "fixed"  # only a fixed tile size exports (window attention masks are baked in)
    INTERNAL = "internal"  # the model tiles internally; do not tile it


@dataclass(frozen=True)
class SizeRequirements:
    """Input size constraints. Guarantee: ``minimum`` is a multiple of ``multiple_of``.

    Attributes:
        minimum: the smallest height/width the model accepts (after padding).
        multiple_of: height and width must be multiples of this (pad to reach it).
        fixed_tile: for window-attention models, the tile size their exported graph is built for.
    """

    minimum: int = 1
    multiple_of: int = 1
    fixed_tile: int | None = None

    def __post_init__(self) -> None:
        if self.multiple_of < 1 or self.minimum < 1:
            raise ValueError(f"SizeRequirements needs minimum >= 1 and multiple_of >= 1, got {self}")
        if self.minimum % self.multiple_of:
            raise ValueError(f"SizeRequirements.minimum {self.minimum} must be a multiple of {self.multiple_of}")
        if self.fixed_tile is not None and self.fixed_tile % self.multiple_of:
            raise ValueError(f"SizeRequirements.fixed_tile {self.fixed_tile} must be a multiple of {self.multiple_of}")

    def padded(self, size: int) -> int:
        """The smallest valid size >= ``size``."""
        size = max(size, self.minimum)
        return -(-size // self.multiple_of) * self.multiple_of


@dataclass(frozen=True)
class ModelDescriptor:
    """The facts about one model configuration that export, runtime and benchmarks rely on.

    Attributes:
        arch_id: the registry id of the architecture.
        hyperparameters: the keyword arguments that rebuild the module.
        purpose: "SR", "Restoration", "Denoise", "Discriminator", "IQA" or "Router".
        scale: output size / input size (1 for restoration).
        in_channels, out_channels: image channels in and out.
        color: "RGB" (3-channel models) or "Y" (luma-only models; the caller converts).
        size: input size requirements.
        tiling: how the model may be tiled.
        tile_advice: (tile, overlap) in input pixels that work well on a CPU.
        supports_fp16, supports_bf16: the model is numerically safe in that precision.
        fp32_layers: module names to keep in fp32 in a mixed-precision export.
        param_count: number of parameters.
        input_range: value range of the input tensor.
    """

    arch_id: str
    hyperparameters: Mapping[str, Any]
    purpose: str
    scale: int
    in_channels: int
    out_channels: int
    color: str
    size: SizeRequirements
    tiling: Tiling
    tile_advice: tuple[int, int]
    supports_fp16: bool
    supports_bf16: bool
    fp32_layers: tuple[str, ...]
    param_count: int
    input_range: tuple[float, float] = (0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tiling"] = self.tiling.value
        d["hyperparameters"] = dict(self.hyperparameters)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelDescriptor:
        d = dict(d)
        d["size"] = SizeRequirements(**d["size"])
        d["tiling"] = Tiling(d["tiling"])
        d["tile_advice"] = tuple(d["tile_advice"])
        d["fp32_layers"] = tuple(d["fp32_layers"])
        d["input_range"] = tuple(d["input_range"])
        return cls(**d)
