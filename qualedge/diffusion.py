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

import torch
from torch import nn

from qualedge.ddim import OBJECTIVES, SPACINGS, DDIMSchedule, SamplerSpec, ddim_update

__all__ = ["DDIMSchedule", "SamplerSpec", "ddim_update", "StepDenoiser", "UnrolledSampler", "sample_loop", "OBJECTIVES", "SPACINGS"]


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
        for c in self.coef:
            tt = torch.full((x.shape[0],), float(c[0]), device=x.device, dtype=x.dtype)
            r0 = self.net(x, r, tt, q)
            r = ddim_update(r, r0, c)
        return (x + r0).clamp(0, 1)


def sample_loop(step: nn.Module, x: torch.Tensor, q: torch.Tensor, noise: torch.Tensor, steps: int = 2, schedule: DDIMSchedule | None = None, *, coefficients: list | None = None) -> torch.Tensor:
    """The step-by-step sampler (one StepDenoiser call per step, scheduler arithmetic outside): the per-step runtime
    path; equals :class:`UnrolledSampler` up to float rounding."""
    r = noise
    r0 = noise
    for c in coefficients if coefficients is not None else (schedule or DDIMSchedule()).coefficients(steps):
        r0 = step(x, r, torch.full((x.shape[0],), float(c[0]), device=x.device, dtype=x.dtype), q)
        r = ddim_update(r, r0, c)
    return (x + r0).clamp(0, 1)
