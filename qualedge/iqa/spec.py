"""The typed description of an IQA metric. Direction (``higher_is_better``) is always stated, never defaulted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Attributes:
        id: the name used everywhere (``create_metric(id)``, CLI ``--metrics``, caches, reports).
        mode: "NR" (no-reference: one image) or "FR" (full-reference: image and reference).
        higher_is_better: True when a larger score means better quality. Required: there is no default.
        score_range: (low, high) of the raw score, or None when unbounded (PSNR).
        differentiable: gradients flow to the input (usable as a loss / reward with ``as_loss=True``).
        backend: "builtin" (qualedge's own implementation, offline) or "pyiqa".
        weights: what the metric needs to run: "none", a data file, a shipped asset, or pyiqa downloads.
        approximate_range: the range is indicative (pyiqa's "~0, ~100"), scores can fall outside it.
        norm_range: the raw range mapped onto [0, 1] by :meth:`normalize` (default: ``score_range``). Chosen so that
            typical scores of real photos spread over the unit interval.
        min_size: smallest height/width the metric accepts.
        input_range: value range of input tensors.
    """

    id: str
    mode: Literal["NR", "FR"]
    higher_is_better: bool
    score_range: tuple[float, float] | None
    differentiable: bool
    backend: str
    weights: str
    approximate_range: bool = False
    norm_range: tuple[float, float] | None = None
    min_size: int = 1
    input_range: tuple[float, float] = (0.0, 1.0)
    description: str = ""

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        """Map raw scores to quality in [0, 1], higher is better (the scale of quality maps and rewards)."""
        lo_hi = self.norm_range or self.score_range
        if lo_hi is None:
            raise ValueError(f"metric {self.id} has no range to normalise with; give it a norm_range")
        lo, hi = lo_hi
        q = ((scores - lo) / (hi - lo)).clamp(0.0, 1.0)
        return q if self.higher_is_better else 1.0 - q
