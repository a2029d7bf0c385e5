"""``qualedge train-restore``: AdaQual-Diff (paper 2) on the shared training infrastructure.

Per step: the quality map q of the degraded crop x comes from the IQA layer (the quality head by default, frozen,
one cell per 16 pixels, quality in [0, 1]); t ~ U{0..T-1}; r_t = noise(r0 = gt - x) (noise clamped to [-1, 1] as in
the released code); the network predicts r0_hat; x0_hat = x + r0_hat.

Losses (all weights configurable):
- L_noise: L1 between r0_hat and r0 ("l1"), or the PSNR loss of the released code ("psnr");
- lambda_1 * L_quality: mean of w(q) |x0_hat - gt| with w(q) = (q_max - q) / (q_max - q_min + eps) per image (q
  upsampled to pixels); eps guards a constant map (then w = 0 everywhere and the term vanishes);
- lambda_2 * L_percep: perceptual feature L1 restricted to low-quality regions (q < tau), the mask resized to each
  feature map.
Ablation switches: ``model.prompt_mode`` = adaptive | uniform | none; ``objective`` = diffusion | regression (the
one-step control with the same backbone: t = T - 1 and r_t = 0 in training and at inference, so only the L_noise
term's target is learnt, without the diffusion process). ``spacing`` picks the inference timesteps (trailing: the
first step sees pure noise, as in training); the checkpoint records the sampler (qualedge.diffusion.SamplerSpec).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from qualedge.train.losses import PerceptualConfig, PerceptualLoss
from qualedge.train.restore_data import RestoreDataConfig, RestoreDataset
from qualedge.train.trainer import EMA, RunConfig, Trainer, unwrap
from torch import nn

from qualedge.archs import get_arch
from qualedge.config import to_dict
from qualedge.diffusion import DDIMSchedule, SamplerSpec
from qualedge.errors import ConfigError


@dataclass(frozen=True)
class RestoreModelConfig:
    preset: str | None = "small"
    hparams: dict[str, Any] = field(default_factory=dict)
    prompt_mode: str = "adaptive"
    init: str | None = None  # checkpoint folder to start from


@dataclass(frozen=True)
class RestoreLossConfig:
    noise: str = "l1"  # "l1" | "psnr"
    lambda_quality: float = 1.0
    lambda_percep: float = 0.1
    tau: float = 0.5
    perceptual_net: PerceptualConfig = field(default_factory=PerceptualConfig)


@dataclass(frozen=True)
class RestoreOptimConfig:
    lr: float = 2e-4
    eps: float = 1e-4  # the released code's Adam eps, for the network weights
    min_lr_ratio: float = 0.01  # cosine annealing to 1 % of lr, as released
    # the prompt tensors (pools, keys, global prompts; initialised at std 0.02) get their own Adam group: with eps 1e-4
    # their small gradients moved them by ~lr * g / eps, i.e. not at all, and the pool/TopK part of Algorithm 1 stayed inert
    prompt_eps: float = 1e-8
    prompt_lr_mult: float = 5.0


@dataclass(frozen=True)
class TrainRestoreConfig:
    quality_metric: str = "qhead"
    steps_inference: int = 2
    objective: str = "diffusion"  # "diffusion" | "regression"
    spacing: str = "trailing"  # inference timestep spacing: "trailing" | "leading"
    model: RestoreModelConfig = field(default_factory=RestoreModelConfig)
    data: RestoreDataConfig = field(default_factory=RestoreDataConfig)
    loss: RestoreLossConfig = field(default_factory=RestoreLossConfig)
    optim: RestoreOptimConfig = field(default_factory=RestoreOptimConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/train-restore", ema=0.995))


def sampler_spec(cfg: TrainRestoreConfig) -> SamplerSpec:
    """How the trained model is sampled (recorded in the checkpoint)."""
    if cfg.objective == "regression":
        return SamplerSpec.regression()
    return SamplerSpec(objective=cfg.objective, steps=cfg.steps_inference, spacing=cfg.spacing)


def prompt_drift(current: dict[str, torch.Tensor], init: dict[str, torch.Tensor]) -> dict[str, float]:
    """Relative change of each prompt tensor from its initialisation, ||p - p0|| / ||p0||."""
    return {f"drift_{n.split('.')[-1]}": float((current[n].detach() - p0).norm() / p0.norm().clamp_min(1e-12)) for n, p0 in init.items()}


def quality_weight(qpix: torch.Tensor) -> torch.Tensor:
    """w(q) = (q_max - q) / (q_max - q_min + eps) per image: 1 at the worst pixel, 0 at the best, 0 for a flat map."""
    b = qpix.shape[0]
    flat = qpix.reshape(b, -1)
    qmin, qmax = flat.amin(1).view(b, 1, 1, 1), flat.amax(1).view(b, 1, 1, 1)
    return (qmax - qpix) / (qmax - qmin + 1e-6)


def build_restorer(mc: RestoreModelConfig) -> tuple[nn.Module, Any]:
    spec = get_arch("adaqual_unet")
    hp = dict(mc.hparams)
    hp.setdefault("prompt_mode", mc.prompt_mode)
    if mc.init is None:
        return spec.build(mc.preset, **hp)
    from qualedge.weights.model_load import load_model

    loaded = load_model(mc.init, arch=spec.id, hparams={"prompt_mode": mc.prompt_mode})
    return loaded.model.train(), loaded.descriptor


class QualityMapper(nn.Module):
    """Quality map (B, 1, H/16, W/16) in [0, 1] of images, from the IQA layer (dense for the quality head)."""

    def __init__(self, metric_id: str, device: torch.device) -> None:
        super().__init__()
        from qualedge.iqa.metrics import create_metric

        self.metric = create_metric(metric_id, device=str(device))
        if getattr(self.metric.net, "cell_map", None) is None:
            raise ConfigError(f"quality_metric {metric_id}: train-restore needs a dense quality map (qhead); per-tile metrics are too slow per step")

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.metric.net.cell_map(x.clamp(0, 1)).float()


class RestoreTask:
    def __init__(self, cfg: TrainRestoreConfig, trainer: Trainer) -> None:
        self.cfg, self.trainer = cfg, trainer
        dev = trainer.dist.device
        model, self.desc = build_restorer(cfg.model)
        self.raw = model.to(dev).train()
        self.net = trainer.wrap(self.raw)
        o = cfg.optim
        prompt_names = {"prompt.pools", "prompt.keys", "prompt.global_prompts"}
        named = dict(self.raw.named_parameters())
        prompt = [p for n, p in named.items() if n in prompt_names]
        rest = [p for n, p in named.items() if n not in prompt_names]
        groups = [{"params": rest, "lr": o.lr, "eps": o.eps}]
        if prompt:
            groups.append({"params": prompt, "lr": o.lr * o.prompt_lr_mult, "eps": o.prompt_eps})
        self.opt = torch.optim.Adam(groups, lr=o.lr)
        self.prompt_init = {n: named[n].detach().clone() for n in prompt_names if n in named}
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, cfg.run.steps), eta_min=o.lr * o.min_lr_ratio)
        self.ema = EMA(self.raw, cfg.run.ema) if cfg.run.ema > 0 else None
        self.sampler = sampler_spec(cfg)
        self.schedule = DDIMSchedule()
        trainer.set_resolved("sampler", self.sampler.to_dict())
        self.qmap = QualityMapper(cfg.quality_metric, dev)
        self.percep = PerceptualLoss(cfg.loss.perceptual_net, log=trainer.log).to(dev) if cfg.loss.lambda_percep > 0 else None
        trainer.set_resolved("perceptual_extractor", self.percep.source if self.percep is not None else "none (weight 0)")

    def lr(self) -> float:
        return self.opt.param_groups[0]["lr"]

    def _percep_masked(self, pred: torch.Tensor, gt: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        if self.percep is None or self.percep.extractor is None or low.sum() == 0:
            return pred.new_zeros(())
        fp, fg = self.percep.extractor(pred), self.percep.extractor(gt)
        total = pred.new_zeros(())
        for (a, w), (b, _) in zip(fp, fg):
            m = F.interpolate(low, size=a.shape[-2:], mode="nearest")
            total = total + w * ((a - b.detach()).abs() * m).sum() / (m.sum() * a.shape[1]).clamp_min(1.0)
        return total

    def train_step(self, batch, step: int) -> dict[str, float]:
        x, gt, _ = batch
        dev = self.trainer.dist.device
        x, gt = x.to(dev), gt.to(dev)
        lc = self.cfg.loss
        q = self.qmap(x)
        r0 = gt - x
        if self.sampler.objective == "regression":  # one step from zero, at the timestep inference uses
            t = torch.full((x.shape[0],), self.schedule.T - 1, device=dev, dtype=torch.long)
            r_t = torch.zeros_like(r0)
        else:
            t = torch.randint(0, self.schedule.T, (x.shape[0],), device=dev)
            noise = torch.randn_like(r0).clamp(-1, 1)
            r_t = self.schedule.add_noise(r0, noise, t)
        with self.trainer.autocast():
            r0_hat = self.net(x, r_t, t.float(), q).float()
        x0_hat = x + r0_hat
        if lc.noise == "l1":
            l_noise = F.l1_loss(r0_hat, r0)
        elif lc.noise == "psnr":
            l_noise = 10.0 / math.log(10.0) * torch.log(((x0_hat - gt) ** 2).mean(dim=(1, 2, 3)) + 1e-8).mean()
        else:
            raise ConfigError(f"loss.noise must be 'l1' or 'psnr', got {lc.noise!r}")
        losses = {"noise": l_noise}
        qpix = F.interpolate(q, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if lc.lambda_quality > 0:
            losses["quality"] = lc.lambda_quality * (quality_weight(qpix) * (x0_hat - gt).abs()).mean()
        if lc.lambda_percep > 0:
            low = (qpix < lc.tau).float()
            losses["percep"] = lc.lambda_percep * self._percep_masked(x0_hat.clamp(0, 1), gt, low)
        total = sum(losses.values())
        self.trainer.backward(total, self.opt, list(self.raw.parameters()))
        self.sched.step()
        if self.ema is not None:
            self.ema.update(self.raw)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["total"] = float(total.detach())
        if self.prompt_init:
            out.update(prompt_drift(dict(self.raw.named_parameters()), self.prompt_init))
        return out

    def export_state_dict(self) -> dict[str, torch.Tensor]:
        return self.ema.state_dict(self.raw) if self.ema is not None else {k: v.detach().cpu() for k, v in self.raw.state_dict().items()}

    def save_model(self, folder, step: int) -> None:
        from qualedge.checkpoint import write_model

        raw = {k: v.detach().cpu() for k, v in self.raw.state_dict().items()} if self.ema is not None else None
        write_model(folder, arch_id="adaqual_unet", hyperparameters=dict(self.desc.hyperparameters), state_dict=self.export_state_dict(), raw_state_dict=raw,
                    meta={"step": step, "config": to_dict(self.cfg), "steps_inference": self.sampler.steps, "sampler": self.sampler.to_dict(), "quality_metric": self.cfg.quality_metric,
                          "resolved": self.trainer.resolved})  # fmt: skip

    def state(self) -> dict[str, Any]:
        s: dict[str, Any] = {"net": unwrap(self.net).state_dict(), "opt": self.opt.state_dict(), "sched": self.sched.state_dict()}
        if self.ema is not None:
            s["ema"] = self.ema.state()
        s["prompt_init"] = self.prompt_init
        return s

    def load_state(self, s: dict[str, Any]) -> None:
        unwrap(self.net).load_state_dict(s["net"])
        try:
            self.opt.load_state_dict(s["opt"])
            self.sched.load_state_dict(s["sched"])
        except ValueError as exc:  # a checkpoint from before the prompt tensors had their own Adam group
            self.trainer.log(f"resume: the optimiser state does not fit this version ({exc}); the optimiser starts afresh")
        if self.ema is not None and "ema" in s:
            self.ema.load(s["ema"], self.trainer.dist.device)
        if "prompt_init" in s:
            self.prompt_init = {k: v.to(self.trainer.dist.device) for k, v in s["prompt_init"].items()}


def train_restore(cfg: TrainRestoreConfig, log=print) -> dict[str, Any]:
    trainer = Trainer(cfg.run, config_dict=to_dict(cfg), log=log)
    try:
        task = RestoreTask(cfg, trainer)
        trainer.log(f"AdaQual-Diff: {task.desc.param_count / 1e6:.2f} M parameters, prompts {cfg.model.prompt_mode}, quality map {cfg.quality_metric}, "
                    f"sampler {task.sampler.to_dict()}")
        ds = RestoreDataset(cfg.data, length=cfg.run.batch * max(1, cfg.run.ckpt_every), rank=trainer.dist.rank, log=trainer.log)
        trainer.log(f"data: {len(ds.clean)} clean photos, {len(ds.pairs)} pairs" + (f"; {ds.skipped} photos smaller than a crop skipped" if ds.skipped else ""))

        def loader(epoch: int):
            ds.set_epoch(epoch)
            return torch.utils.data.DataLoader(ds, batch_size=cfg.run.batch, shuffle=False, num_workers=cfg.run.workers, drop_last=True)

        last = trainer.fit(task, loader)
        return {"out": str(trainer.out), "last": last}
    finally:
        trainer.dist.close()
