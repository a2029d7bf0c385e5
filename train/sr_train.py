"""``qualedge train-sr``: SR training with IQA-guided multi-GT sampling (paper 1), in HGGT's setting by default.

Loss = l1 * L1 + perceptual * VGG19-perceptual + gan * vanilla GAN with Real-ESRGAN's U-Net discriminator (spectral
norm); HGGT's weights 1 / 1 / 0.1, Adam lr 1e-4 betas (0.9, 0.99), EMA 0.999, MultiStepLR. Architectures: any
registered SR arch (rrdbnet, swinir, srvgg, ...), optionally initialised from pretrained weights. The same command
runs on the CPU with a tiny configuration and on GPUs (torchrun for several).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from qualedge.train.losses import PerceptualConfig, PerceptualLoss, gan_loss
from qualedge.train.sr_data import SRDataConfig, SRDataset, load_groups, score_groups
from qualedge.train.trainer import EMA, RunConfig, Trainer, unwrap
from torch import nn

from qualedge.archs import get_arch
from qualedge.config import to_dict
from qualedge.errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "srvgg"
    preset: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    init: str | None = None  # pretrained id, weights file, or checkpoint folder
    disc_hparams: dict[str, Any] = field(default_factory=dict)  # the U-Net discriminator's (e.g. {num_feat=32})


@dataclass(frozen=True)
class LossConfig:
    l1: float = 1.0
    perceptual: float = 1.0
    gan: float = 0.1
    perceptual_net: PerceptualConfig = field(default_factory=PerceptualConfig)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.99)
    milestones: tuple[int, ...] = (200000,)
    gamma: float = 0.5
    disc_lr: float = 1e-4


@dataclass(frozen=True)
class TrainSRConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: SRDataConfig = field(default_factory=SRDataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/train-sr"))


def build_generator(mc: ModelConfig) -> tuple[nn.Module, Any]:
    """The generator with its initial weights (pretrained id, weights file or checkpoint, its LoRA merged)."""
    spec = get_arch(mc.arch)
    if mc.init is None:
        return spec.build(mc.preset, **mc.hparams)
    from qualedge.weights.model_load import load_model

    loaded = load_model(mc.init, hparams=mc.hparams or None)
    if loaded.descriptor.arch_id != spec.id:
        raise ConfigError(f"model.init {mc.init} holds a {loaded.descriptor.arch_id}, not a {spec.id}")
    return loaded.model.train(), loaded.descriptor


class SRTask:
    """Generator (+ discriminator) optimisation for one step; checkpoints through qualedge.checkpoint."""

    def __init__(self, cfg: TrainSRConfig, trainer: Trainer, generator: nn.Module, desc: Any, *, trainable=None) -> None:
        self.cfg, self.trainer = cfg, trainer
        self.desc = desc
        dev = trainer.dist.device
        self.raw = generator.to(dev)
        self.g = trainer.wrap(self.raw)
        params = [p for p in (trainable if trainable is not None else self.raw.parameters()) if p.requires_grad]
        if not params:
            raise ConfigError("nothing to train: every parameter is frozen")
        self.g_params = params
        o = cfg.optim
        self.opt_g = torch.optim.Adam(params, lr=o.lr, betas=o.betas)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, list(o.milestones), o.gamma)
        self.ema = EMA(self.raw, cfg.run.ema) if cfg.run.ema > 0 else None
        self.percep = PerceptualLoss(cfg.loss.perceptual_net, log=trainer.log).to(dev) if cfg.loss.perceptual > 0 else None
        trainer.set_resolved("perceptual_extractor", self.percep.source if self.percep is not None else "none (weight 0)")
        self.disc = None
        if cfg.loss.gan > 0:
            d, _ = get_arch("unet_disc_sn").build(**{"num_in_ch": desc.out_channels, **cfg.model.disc_hparams})
            self.disc_raw = d.to(dev)
            self.disc = trainer.wrap(self.disc_raw)
            self.opt_d = torch.optim.Adam(self.disc_raw.parameters(), lr=o.disc_lr, betas=o.betas)

    def lr(self) -> float:
        return self.opt_g.param_groups[0]["lr"]

    def generator_losses(self, sr: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        lc = self.cfg.loss
        losses = {"l1": nn.functional.l1_loss(sr, gt) * lc.l1}
        if self.percep is not None and self.percep.enabled:
            losses["perceptual"] = self.percep(sr, gt) * lc.perceptual
        if self.disc is not None:
            for p in self.disc_raw.parameters():
                p.requires_grad_(False)
            losses["gan"] = gan_loss(self.disc(sr), True) * lc.gan
        return losses

    def disc_step(self, sr: torch.Tensor, gt: torch.Tensor) -> dict[str, float]:
        if self.disc is None:
            return {}
        for p in self.disc_raw.parameters():
            p.requires_grad_(True)
        with self.trainer.autocast():
            d_real = gan_loss(self.disc(gt), True)
            d_fake = gan_loss(self.disc(sr.detach()), False)
            loss = d_real + d_fake
        self.trainer.backward(loss, self.opt_d, list(self.disc_raw.parameters()))
        return {"d_real": float(d_real.detach()), "d_fake": float(d_fake.detach())}

    def train_step(self, batch, step: int) -> dict[str, float]:
        lr_t, gt, _ = batch
        dev = self.trainer.dist.device
        lr_t, gt = lr_t.to(dev, non_blocking=True), gt.to(dev, non_blocking=True)
        if self.cfg.run.channels_last:
            lr_t = lr_t.contiguous(memory_format=torch.channels_last)
        self.g.train()
        with self.trainer.autocast():
            sr = self.g(lr_t)
            losses = self.generator_losses(sr.float(), gt)
            total = sum(losses.values())
        self.trainer.backward(total, self.opt_g, self.g_params)
        self.sched_g.step()
        if self.ema is not None:
            self.ema.update(self.raw)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out.update(self.disc_step(sr.float(), gt))
        out["total"] = float(total.detach())
        return out

    def export_state_dict(self) -> dict[str, torch.Tensor]:
        return self.ema.state_dict(self.raw) if self.ema is not None else {k: v.detach().cpu() for k, v in self.raw.state_dict().items()}

    def save_model(self, folder, step: int) -> None:
        from qualedge.checkpoint import write_model

        raw = {k: v.detach().cpu() for k, v in self.raw.state_dict().items()} if self.ema is not None else None
        write_model(folder, arch_id=self.desc.arch_id, hyperparameters=dict(self.desc.hyperparameters), state_dict=self.export_state_dict(),
                    raw_state_dict=raw, meta={"step": step, "config": to_dict(self.cfg), "resolved": self.trainer.resolved})  # fmt: skip

    def state(self) -> dict[str, Any]:
        s: dict[str, Any] = {"g": unwrap(self.g).state_dict(), "opt_g": self.opt_g.state_dict(), "sched_g": self.sched_g.state_dict()}
        if self.ema is not None:
            s["ema"] = self.ema.state()
        if self.disc is not None:
            s["d"] = self.disc_raw.state_dict()
            s["opt_d"] = self.opt_d.state_dict()
        return s

    def load_state(self, s: dict[str, Any]) -> None:
        unwrap(self.g).load_state_dict(s["g"])
        self.opt_g.load_state_dict(s["opt_g"])
        self.sched_g.load_state_dict(s["sched_g"])
        if self.ema is not None and "ema" in s:
            self.ema.load(s["ema"], self.trainer.dist.device)
        if self.disc is not None and "d" in s:
            self.disc_raw.load_state_dict(s["d"])
            self.opt_d.load_state_dict(s["opt_d"])


def make_loader(cfg: TrainSRConfig, trainer: Trainer, *, length: int):
    """An epoch factory over the SR dataset (scores precomputed for SMA/SMP, a crop metric for AMO)."""
    from qualedge.train.bad_images import BadImages

    groups = load_groups(cfg.data)
    bad = BadImages(cfg.data.bad_images, trainer.log)  # unreadable files leave before any is scored
    groups = [g for g in groups if all(bad.header(p) is not None for p in g.paths + ([g.lr_path] if g.lr_path else []))]
    crop_metric = None
    if cfg.data.strategy in ("sma", "smp"):
        score_groups(groups, cfg.data.score_metric, progress=trainer.dist.main and cfg.run.progress)
    if cfg.data.strategy == "amo":
        from qualedge.iqa.metrics import create_metric

        crop_metric = create_metric(cfg.data.score_metric)
    ds = SRDataset(cfg.data, groups, length=length, rank=trainer.dist.rank, crop_metric=crop_metric, log=trainer.log)
    ds.bad.bad.update(bad.bad)
    if ds.skipped:
        trainer.log(f"data: {ds.skipped} of {len(groups)} images are smaller than data.gt_size {cfg.data.gt_size} and are skipped")

    def epoch_loader(epoch: int):
        ds.set_epoch(epoch)
        return torch.utils.data.DataLoader(ds, batch_size=cfg.run.batch, shuffle=False, num_workers=cfg.run.workers, drop_last=True)

    return epoch_loader


def train_sr(cfg: TrainSRConfig, log=print) -> dict[str, Any]:
    trainer = Trainer(cfg.run, config_dict=to_dict(cfg), log=log)
    try:
        generator, desc = build_generator(cfg.model)
        if desc.scale != cfg.data.scale:
            raise ConfigError(f"the model upscales x{desc.scale} but data.scale is {cfg.data.scale}")
        task = SRTask(cfg, trainer, generator.train(), desc)
        loader = make_loader(cfg, trainer, length=cfg.run.batch * max(1, cfg.run.ckpt_every))
        last = trainer.fit(task, loader)
        return {"out": str(trainer.out), "last": last}
    finally:
        trainer.dist.close()
