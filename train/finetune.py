"""``qualedge finetune-sr``: direct IQA optimisation through LoRA only (paper 1).

The base SR model is frozen; peft LoRA adapters on its Linear layers (SwinIR: qkv, proj, fc1, fc2) or Conv2d layers
(RRDBNet, compact: every 3x3 convolution) are trained on L - lambda_q * Q(SR), where L is the HGGT loss and Q a
differentiable metric of the IQA layer normalised to [0, 1] (``MetricSpec.normalize``: higher is better), kept in
eval mode: the quality head offline, or pyiqa ``as_loss`` metrics (MUSIQ, ...) with their weights. LoRA is the
regulariser against exploiting Q. Variants (paper): FT (GAN off), FT_HP (higher perceptual weight, GAN off), FT_IG
(GAN on). Adapters go to ``<checkpoint>/adapter`` beside the frozen base weights; ``qualedge export`` merges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from qualedge.train.sr_data import SRDataConfig
from qualedge.train.sr_train import (
    LossConfig,
    ModelConfig,
    OptimConfig,
    SRTask,
    TrainSRConfig,
    build_generator,
    make_loader,
)
from qualedge.train.trainer import RunConfig, Trainer, unwrap
from torch import nn

from qualedge.config import to_dict
from qualedge.errors import ConfigError

VARIANTS = ("FT", "FT_HP", "FT_IG")


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 8
    alpha: int = 8
    dropout: float = 0.0
    targets: tuple[str, ...] = ()  # module name suffixes; empty: Linear layers for SwinIR, 3x3 Conv2d layers otherwise


@dataclass(frozen=True)
class RewardConfig:
    metric: str = "qhead"
    weight: float = 0.1  # lambda_q, on the normalised [0, 1] quality scale


@dataclass(frozen=True)
class FinetuneSRConfig:
    variant: str = "FT"
    hp_factor: float = 4.0  # FT_HP: perceptual weight multiplier
    model: ModelConfig = field(default_factory=lambda: ModelConfig(arch="srvgg", preset="animevideov3", init="realesr-animevideov3"))
    lora: LoraConfig = field(default_factory=LoraConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    data: SRDataConfig = field(default_factory=lambda: SRDataConfig(strategy="amo"))
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=2e-4, milestones=(10**9,)))
    run: RunConfig = field(default_factory=lambda: RunConfig(out="runs/finetune-sr"))


def lora_targets(model: nn.Module, arch: str, cfg: LoraConfig) -> list[str]:
    if cfg.targets:
        names = [n for n, _ in model.named_modules() if any(n == t or n.endswith("." + t) or n.endswith(t) for t in cfg.targets)]
    elif arch == "swinir":
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    else:
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    if not names:
        raise ConfigError(f"lora.targets matched no module of {arch}")
    return names


class FinetuneTask(SRTask):
    def __init__(self, cfg: FinetuneSRConfig, trainer: Trainer, peft_model: nn.Module, desc: Any, metric) -> None:
        self.ft_cfg = cfg
        trainable = [p for p in peft_model.parameters() if p.requires_grad]
        super().__init__(_as_train_cfg(cfg), trainer, peft_model, desc, trainable=trainable)
        self.metric = metric

    def generator_losses(self, sr: torch.Tensor, gt: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = super().generator_losses(sr, gt)
        q = self.metric.quality(sr.clamp(0, 1)).mean()
        losses["reward"] = -self.ft_cfg.reward.weight * q
        return losses

    def save_model(self, folder, step: int) -> None:
        from qualedge.checkpoint import write_model

        peft_model = unwrap(self.g)
        base = peft_model.get_base_model()
        base_sd = {k.replace(".base_layer", ""): v.detach().cpu() for k, v in base.state_dict().items() if "lora_" not in k}
        write_model(folder, arch_id=self.desc.arch_id, hyperparameters=dict(self.desc.hyperparameters), state_dict=base_sd,
                    meta={"step": step, "config": to_dict(self.ft_cfg), "lora": True, "resolved": self.trainer.resolved})  # fmt: skip
        ema_sd = self.ema.state_dict(self.raw) if self.ema is not None else None
        if ema_sd is not None:  # the EMA of the adapter weights in adapter/, the raw adapter in adapter_raw/
            peft_model.save_pretrained(str(folder / "adapter_raw"))
            current = {k: v.detach().clone() for k, v in peft_model.state_dict().items()}
            peft_model.load_state_dict(ema_sd)
            peft_model.save_pretrained(str(folder / "adapter"))
            peft_model.load_state_dict(current)
        else:
            peft_model.save_pretrained(str(folder / "adapter"))


def load_base_discriminator(task: SRTask, init: str | None, log) -> str:
    """FT_IG continues the base run's GAN: load the discriminator from the base checkpoint's training state when it
    has one (same architecture), else start a new one; returns what was done (recorded in the run's config)."""
    from pathlib import Path

    from qualedge.checkpoint import resolve_checkpoint, split_reference

    if init is None:
        return "new (model.init is not a checkpoint)"
    folder, _ = split_reference(init)
    if not folder.is_dir():
        return "new (model.init is not a checkpoint)"
    state_p = Path(resolve_checkpoint(folder)) / "training_state.pt"
    if not state_p.is_file():
        return f"new ({folder} has no training_state.pt)"
    try:
        state = torch.load(state_p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (an unreadable base state costs the discriminator, not the run)
        log(f"FT_IG: cannot read {state_p} ({str(exc).splitlines()[0]}); starting a new discriminator")
        return f"new ({state_p} unreadable)"
    d = state.get("task", {}).get("d")
    if d is None:
        return f"new (the base run {folder} trained no discriminator)"
    try:
        task.disc_raw.load_state_dict(d)
    except RuntimeError as exc:
        log(f"FT_IG: the base discriminator does not fit this one ({str(exc).splitlines()[0]}); starting a new one")
        return f"new (base discriminator of {folder} has another shape)"
    return f"loaded from {state_p}"


def _as_train_cfg(cfg: FinetuneSRConfig) -> TrainSRConfig:
    if cfg.variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {VARIANTS}, got {cfg.variant!r}")
    loss = cfg.loss
    if cfg.variant in ("FT", "FT_HP"):
        loss = replace(loss, gan=0.0)
    if cfg.variant == "FT_HP":
        loss = replace(loss, perceptual=loss.perceptual * cfg.hp_factor)
    return TrainSRConfig(model=cfg.model, data=cfg.data, loss=loss, optim=cfg.optim, run=cfg.run)


def finetune_sr(cfg: FinetuneSRConfig, log=print) -> dict[str, Any]:
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model

    from qualedge.iqa.metrics import create_metric

    trainer = Trainer(cfg.run, config_dict=to_dict(cfg), log=log)
    try:
        base, desc = build_generator(cfg.model)
        for p in base.parameters():
            p.requires_grad_(False)
        targets = lora_targets(base, desc.arch_id, cfg.lora)
        peft_model = get_peft_model(base, PeftLora(r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout, target_modules=targets))
        n_train = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
        trainer.log(f"LoRA r={cfg.lora.rank} on {len(targets)} {desc.arch_id} layers: {n_train} trainable parameters (base frozen)")
        metric = create_metric(cfg.reward.metric, device=str(trainer.dist.device), as_loss=True)
        metric.net.eval()
        for p in metric.net.parameters():
            p.requires_grad_(False)
        trainer.log(f"reward: {metric.spec.id} (normalised quality, weight {cfg.reward.weight}); variant {cfg.variant}")
        task = FinetuneTask(cfg, trainer, peft_model, desc, metric)
        if task.disc is not None:
            trainer.set_resolved("discriminator", load_base_discriminator(task, cfg.model.init, trainer.log))
        loader = make_loader(_as_train_cfg(cfg), trainer, length=cfg.run.batch * max(1, cfg.run.ckpt_every))
        last = trainer.fit(task, loader)
        return {"out": str(trainer.out), "last": last, "trainable": n_train}
    finally:
        trainer.dist.close()
