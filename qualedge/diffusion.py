"""Residual diffusion with DDIM for AdaQual-Diff: schedule, training noising, K-step sampling, exportable forms.

Notation (DDIM, Song et al. 2021; prediction type "sample": the network predicts the clean residual r0):
  alpha_bar_t = prod_{s<=t} (1 - beta_s), beta linear from 1e-4 to 0.02 over T = 1000 steps;
  training:  r_t = sqrt(alpha_bar_t) r0 + sqrt(1 - alpha_bar_t) eps,  r0 = gt - x;
  sampling (eta = 0), timesteps t_1 > ... > t_K, r_{t_1} = eps, with "trailing" spacing (K = 2: 999, 499), so the
  first step sees pure noise as in training (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are
  Flawed", 2024); "leading" spacing (K = 2: 500, 0) is kept for models trained before (their first step sees pure
  noise where training showed 0.28 r0 + 0.96 eps, and the last step at t = 0 only copies its input):
    r0_hat = f(x, r_t, t, q);  eps_hat = (r_t - sqrt(ab_t) r0_hat) / sqrt(1 - ab_t);
    r_prev = sqrt(ab_prev) r0_hat + sqrt(1 - ab_prev) eps_hat;  output x + r0_hat of the last step.
``StepDenoiser`` is one network call (the per-step graph); ``UnrolledSampler`` runs all K steps with constant
timesteps and coefficients and takes the initial noise as an input (the unrolled graph).

Objective ``regression`` (the one-step control arm, same backbone): the network is trained and run at t = T - 1 with
r_t = 0 (the runtime feeds zero noise), so the table can show what the diffusion process adds.
``SamplerSpec`` is how a model is sampled; it travels in the checkpoint's meta, the weights' metadata and the bundle
policy, so training, evaluation, export and runtime agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from qualedge.errors import ConfigError

SPACINGS = ("trailing", "leading")
OBJECTIVES = ("diffusion", "regression")


class DDIMSchedule:
    def __init__(self, *, train_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02, spacing: str = "trailing") -> None:
        if spacing not in SPACINGS:
            raise ConfigError(f"timestep spacing must be one of {SPACINGS}, got {spacing!r}")
        self.T, self.spacing = train_steps, spacing
        betas = torch.linspace(beta_start, beta_end, train_steps, dtype=torch.float64)
        self.alpha_bar = torch.cumprod(1 - betas, dim=0)

    def timesteps(self, k: int) -> list[int]:
        """K inference timesteps, highest first: trailing (K = 2 -> [999, 499]) or leading (K = 2 -> [500, 0])."""
        if not 1 <= k <= self.T:
            raise ValueError(f"the number of sampling steps must be in [1, {self.T}], got {k}")
        if self.spacing == "trailing":
            return [round(self.T - i * self.T / k) - 1 for i in range(k)]
        step = self.T // k
        return [i * step for i in range(k)][::-1]

    def add_noise(self, r0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar.to(r0.device)[t].float().view(-1, 1, 1, 1)
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


class StepDenoiser(nn.Module):
    """One network evaluation: (x, r_t, t, q) -> r0_hat. The per-step export graph."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, r_t: torch.Tensor, t: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return self.net(x, r_t, t, q)


class UnrolledSampler(nn.Module):
    """All K DDIM steps with constant timesteps: (x, q, noise) -> restored image. The unrolled export graph."""

    def __init__(self, net: nn.Module, steps: int = 2, schedule: DDIMSchedule | None = None, *, coefficients: list | None = None) -> None:
        super().__init__()
        self.net = net
        self.coef = [tuple(c) for c in coefficients] if coefficients is not None else (schedule or DDIMSchedule()).coefficients(steps)

    def forward(self, x: torch.Tensor, q: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        r = noise
        r0 = noise
        for t, sa, s1a, sap, s1ap in self.coef:
            tt = torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype)
            r0 = self.net(x, r, tt, q)
            eps = (r - sa * r0) / s1a
            r = sap * r0 + s1ap * eps
        return (x + r0).clamp(0, 1)


def sample_loop(step: nn.Module, x: torch.Tensor, q: torch.Tensor, noise: torch.Tensor, steps: int = 2, schedule: DDIMSchedule | None = None, *, coefficients: list | None = None) -> torch.Tensor:
    """The step-by-step sampler (one StepDenoiser call per step, scheduler arithmetic outside): the per-step runtime
    path; equals :class:`UnrolledSampler` up to float rounding."""
    r = noise
    r0 = noise
    for t, sa, s1a, sap, s1ap in coefficients if coefficients is not None else (schedule or DDIMSchedule()).coefficients(steps):
        r0 = step(x, r, torch.full((x.shape[0],), float(t), device=x.device, dtype=x.dtype), q)
        eps = (r - sa * r0) / s1a
        r = sap * r0 + s1ap * eps
    return (x + r0).clamp(0, 1)
