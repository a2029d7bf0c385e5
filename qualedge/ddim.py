"""DDIM arithmetic without PyTorch (the runtime uses it with NumPy; training and export with tensors): the noise
schedule, the inference timesteps and coefficients, the update, and ``SamplerSpec`` (how a model is sampled).
See qualedge/diffusion.py for the notation and the network-side modules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qualedge.errors import ConfigError

SPACINGS = ("trailing", "leading")
OBJECTIVES = ("diffusion", "regression")


class DDIMSchedule:
    def __init__(self, *, train_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02, spacing: str = "trailing") -> None:
        if spacing not in SPACINGS:
            raise ConfigError(f"timestep spacing must be one of {SPACINGS}, got {spacing!r}")
        self.T, self.spacing = train_steps, spacing
        betas = np.linspace(beta_start, beta_end, train_steps, dtype=np.float64)
        self.alpha_bar = np.cumprod(1 - betas)

    def timesteps(self, k: int) -> list[int]:
        """K inference timesteps, highest first: trailing (K = 2 -> [999, 499]) or leading (K = 2 -> [500, 0])."""
        if not 1 <= k <= self.T:
            raise ValueError(f"the number of sampling steps must be in [1, {self.T}], got {k}")
        if self.spacing == "trailing":
            return [round(self.T - i * self.T / k) - 1 for i in range(k)]
        step = self.T // k
        return [i * step for i in range(k)][::-1]

    def add_noise(self, r0, noise, t):
        """Training noising r_t = sqrt(ab_t) r0 + sqrt(1 - ab_t) eps for torch tensors (t: (B,) timesteps)."""
        import torch

        ab = torch.as_tensor(self.alpha_bar, device=r0.device)[t].float().view(-1, 1, 1, 1)
        return ab.sqrt() * r0 + (1 - ab).sqrt() * noise

    def coefficients(self, k: int) -> list[tuple[int, float, float, float, float]]:
        """Per step: (t, sqrt(ab_t), sqrt(1 - ab_t), sqrt(ab_prev), sqrt(1 - ab_prev)); prev of the last step is t=0."""
        ts = self.timesteps(k)
        out = []
        for i, t in enumerate(ts):
            prev = ts[i + 1] if i + 1 < len(ts) else -1
            ab = float(self.alpha_bar[t])
            abp = float(self.alpha_bar[prev]) if prev >= 0 else 1.0
            out.append((t, math.sqrt(ab), math.sqrt(1 - ab), math.sqrt(abp), math.sqrt(1 - abp)))
        return out


@dataclass(frozen=True)
class SamplerSpec:
    """How a restoration model is sampled: objective, number of DDIM steps, timestep spacing."""

    objective: str = "diffusion"
    steps: int = 2
    spacing: str = "trailing"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.spacing not in SPACINGS:
            raise ConfigError(f"timestep spacing must be one of {SPACINGS}, got {self.spacing!r}")
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if self.objective == "regression" and (self.steps != 1 or self.spacing != "trailing"):
            raise ConfigError("the regression objective runs one step at t = T - 1: steps 1, spacing 'trailing'")

    @property
    def noise_scale(self) -> float:
        """1 for diffusion (the initial residual is Gaussian noise), 0 for regression (it is zero)."""
        return 0.0 if self.objective == "regression" else 1.0

    def schedule(self) -> DDIMSchedule:
        return DDIMSchedule(spacing=self.spacing)

    def coefficients(self) -> list[tuple[int, float, float, float, float]]:
        return self.schedule().coefficients(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def regression(cls) -> SamplerSpec:
        return cls(objective="regression", steps=1, spacing="trailing")

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], *, steps: int | None = None) -> SamplerSpec:
        """From a checkpoint's meta or a weights file's metadata; models from before the spec (no "sampler") were
        trained for 2 leading-spaced diffusion steps."""
        d = meta.get("sampler")
        if isinstance(d, str):
            import json

            d = json.loads(d)
        if not d:
            return cls(objective="diffusion", steps=int(steps or meta.get("steps_inference", 2)), spacing="leading")
        unknown = set(d) - {"objective", "steps", "spacing"}
        if unknown:
            raise ConfigError(f"sampler: unknown keys {sorted(unknown)}")
        spec = cls(**d)
        if steps is not None and spec.objective == "diffusion":
            spec = cls(objective="diffusion", steps=int(steps), spacing=spec.spacing)
        return spec


def ddim_update(r, r0, coef: tuple[int, float, float, float, float]):
    """One deterministic DDIM update (eta = 0) from r_t to r_prev given the prediction r0_hat; works on torch tensors
    and NumPy arrays alike (the unrolled graph, the PyTorch step loop and the runtime's NumPy step loop share it)."""
    _, sa, s1a, sap, s1ap = coef
    eps = (r - sa * r0) / s1a
    return sap * r0 + s1ap * eps


def ddim_sample_steps(step, x, q, noise, coefficients):
    """The K-step DDIM sampler over a per-step graph ``step(x, r_t, t, q) -> r0_hat`` on NumPy arrays: from the
    initial residual ``noise``, one :func:`ddim_update` per coefficient row; returns the restored ``clip(x + r0_hat)``
    (the runtime's step loop and the export's int8 gate run it)."""
    r = r0 = noise
    for c in coefficients:
        r0 = step(x, r, np.full((x.shape[0],), c[0], np.float32), q)
        r = ddim_update(r, r0, c)
    return np.clip(x + r0, 0, 1)

