"""Training infrastructure shared by train-sr, finetune-sr and train-restore.

- Distributed: under ``torchrun`` (WORLD_SIZE > 1) the process group starts with NCCL on CUDA or gloo on the CPU,
  the model is wrapped in DistributedDataParallel, every rank draws different samples, rank 0 writes.
- EMA of the generator's weights with warm-up (decay_t = min(decay, (1 + t) / (10 + t)) after t updates, as timm's
  and diffusers' EMA), so a short run's EMA is not mostly its starting point; checkpoints keep both the EMA and the
  raw weights (``model.safetensors`` and ``model_raw.safetensors``; ``<checkpoint>@raw`` selects the raw ones).
- AMP (fp16 with a grad scaler, or bf16), channels_last, gradient clipping.
- Checkpoints: ``<out>/ckpt-<step>/`` holds ``model.safetensors`` + ``model.json`` (qualedge.checkpoint, what export
  reads; EMA weights when kept), an optional peft ``adapter/``, and ``training_state.pt`` (optimisers, schedulers,
  raw weights, discriminator, RNG, data position). The folder is complete before ``<out>/latest.json`` (written
  atomically) points at it, so a run killed at any moment (SIGKILL included) resumes from the last complete
  checkpoint, at the same place in the same epoch's data order (samples are seeded by (seed, rank, epoch, index)).
  The state is read with ``torch.load(weights_only=True)``: tensors and plain containers only.
- Logs: ``metrics.csv`` (and TensorBoard when asked and installed), the resolved config as ``config.json`` with a
  ``resolved`` section for choices made at run time (the perceptual extractor actually used), a progress bar.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qualedge.atomic import atomic_save, atomic_write_json
from qualedge.errors import ConfigError, TrainingError


@dataclass(frozen=True)
class RunConfig:
    steps: int = 1000
    batch: int = 8
    workers: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    amp: str = "none"  # "none" | "fp16" | "bf16"
    channels_last: bool = False
    grad_clip: float = 0.0
    ema: float = 0.999
    log_every: int = 10
    ckpt_every: int = 100
    keep: int = 2
    out: str = "runs/train"
    seed: int = 0
    resume: bool = True
    progress: bool = True
    tensorboard: bool = False
    max_minutes: float = 0.0  # wall-clock budget of this invocation: stop and checkpoint when reached (0: none)
    compile: bool = False  # torch.compile the model being trained (CUDA recipes; off on the CPU by default)


class Dist:
    """Process-group state: single process by default, torchrun's environment when present."""

    def __init__(self, device: str) -> None:
        import torch.distributed as td

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("run.device = 'cuda' but CUDA is not available; use 'cpu' or 'auto'")
        self.device = torch.device(f"cuda:{local}" if device == "cuda" else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.world > 1 and not td.is_initialized():
            td.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        self.td = td

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            self.td.barrier()

    def close(self) -> None:
        if self.world > 1 and self.td.is_initialized():
            self.td.destroy_process_group()


class EMA:
    """Exponential moving average of a module's floating-point state, with warm-up: update t (0-based) uses
    ``decay_t = min(decay, (1 + t) / (10 + t))`` (``warmup=False``: the constant ``decay``)."""

    def __init__(self, module: nn.Module, decay: float, *, warmup: bool = True) -> None:
        self.decay = decay
        self.warmup = warmup
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items() if v.dtype.is_floating_point}

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        d = self.current_decay()
        for k, v in module.state_dict().items():
            if k in self.shadow:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
        self.updates += 1

    def state(self) -> dict[str, Any]:
        return {"shadow": self.shadow, "updates": self.updates}

    def load(self, state: dict[str, Any], device: torch.device) -> None:
        """Load ``state()`` (or, from checkpoints of earlier versions, a bare shadow dict: counted as warmed up)."""
        shadow = state["shadow"] if "shadow" in state else state
        self.shadow = {k: v.to(device) for k, v in shadow.items()}
        self.updates = int(state.get("updates", 10**9)) if "shadow" in state else 10**9

    def state_dict(self, module: nn.Module) -> dict[str, torch.Tensor]:
        sd = module.state_dict()
        return {k: (self.shadow[k] if k in self.shadow else v).detach().cpu() for k, v in sd.items()}


def latest_checkpoint(out: Path) -> Path | None:
    p = out / "latest.json"
    if not p.is_file():
        return None
    d = json.loads(p.read_text())
    ck = out / d["path"]
    return ck if (ck / "training_state.pt").is_file() else None


class Trainer:
    """Runs ``steps`` of ``step_fn`` with checkpoints and logs.

    ``step_fn(batch, step) -> dict[str, Tensor]`` returns the generator losses with a "total" entry; an optional
    ``disc_step(batch_out) -> dict`` trains a discriminator (called by the task itself inside step_fn). The task
    provides ``save_extra(folder)`` to write model.safetensors/model.json/adapter and ``state()/load_state()``.
    """

    def __init__(self, cfg: RunConfig, *, config_dict: dict[str, Any], log: Callable[[str], None] = print) -> None:
        if cfg.amp not in ("none", "fp16", "bf16"):
            raise ConfigError(f"run.amp must be none, fp16 or bf16, got {cfg.amp!r}")
        self.cfg = cfg
        self.dist = Dist(cfg.device)
        self.out = Path(cfg.out)
        self.log_fn = log
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.out / "config.json", config_dict)
        self.dist.barrier()
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and self.dist.device.type == "cuda")
        self.stopped_early: int | None = None  # the step at which run.max_minutes stopped the run
        self._tb = None
        self._csv_header: list[str] | None = None
        self.config_dict = config_dict
        self.resolved: dict[str, str] = {}
        self._epoch, self._pos = 0, 0  # data position: epoch and batches of it consumed

    def set_resolved(self, key: str, value: str) -> None:
        """Record a choice made at run time (in config.json's ``resolved``, every metrics.csv row and checkpoint)."""
        self.resolved[key] = value
        self.log(f"resolved {key}: {value}")
        if self.dist.main:
            atomic_write_json(self.out / "config.json", {**self.config_dict, "resolved": self.resolved})

    def log(self, msg: str) -> None:
        if self.dist.main:
            self.log_fn(msg)

    def autocast(self):
        if self.cfg.amp == "none":
            return torch.autocast(self.dist.device.type, enabled=False)
        dtype = torch.float16 if self.cfg.amp == "fp16" else torch.bfloat16
        return torch.autocast(self.dist.device.type, dtype=dtype)

    def wrap(self, model: nn.Module) -> nn.Module:
        model = model.to(self.dist.device)
        if self.cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.cfg.compile:
            model = torch.compile(model)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return model

    def backward(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, params) -> None:
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()

    # ------------------------------------------------------------------------------------------------ checkpoints
    def save(self, step: int, task) -> Path | None:
        if not self.dist.main:
            return None
        folder = self.out / f"ckpt-{step:07d}"
        if folder.exists():
            shutil.rmtree(folder)
        tmp = self.out / f".ckpt-{step:07d}.partial"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        task.save_model(tmp, step)
        state = {"step": step, "task": task.state(), "rng": torch.get_rng_state(), "scaler": self.scaler.state_dict(), "epoch": self._epoch, "batch_in_epoch": self._pos}
        atomic_save(tmp / "training_state.pt", lambda p: torch.save(state, p), what="training state")
        os.replace(tmp, folder)
        atomic_write_json(self.out / "latest.json", {"step": step, "path": folder.name})
        ckpts = sorted(self.out.glob("ckpt-*"))
        for old in ckpts[: -self.cfg.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return folder

    def restore(self, task) -> int:
        """Load the latest complete checkpoint if resuming; returns the step to start from."""
        ck = latest_checkpoint(self.out) if self.cfg.resume else None
        if ck is None:
            return 0
        try:
            state = torch.load(ck / "training_state.pt", map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TrainingError(f"{ck}: the checkpoint cannot be read safely ({str(exc).splitlines()[0]}); delete it or set run.resume = false") from exc
        task.load_state(state["task"])
        torch.set_rng_state(state["rng"])
        self.scaler.load_state_dict(state["scaler"])
        self._resumed_position = (int(state["epoch"]), int(state["batch_in_epoch"])) if "epoch" in state else None
        self.log(f"resumed from {ck} (step {state['step']})")
        return int(state["step"])

    # ------------------------------------------------------------------------------------------------ logging
    def record(self, step: int, values: dict[str, float]) -> None:
        if not self.dist.main:
            return
        row = {"step": step, "time": round(time.time(), 3), "world_size": self.dist.world, **{k: round(float(v), 6) for k, v in values.items()}, **self.resolved}
        path = self.out / "metrics.csv"
        new = not path.exists()
        if self._csv_header is None:
            self._csv_header = list(row)
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._csv_header, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self.cfg.tensorboard:
            if self._tb is None:
                try:
                    from torch.utils.tensorboard import SummaryWriter

                    self._tb = SummaryWriter(str(self.out / "tb"))
                except ImportError:
                    self.log("run.tensorboard: tensorboard is not installed; metrics.csv only")
                    self._tb = False
            if self._tb:
                for k, v in values.items():
                    self._tb.add_scalar(k, float(v), step)

    def fit(self, task, loader_for_epoch: Callable[[int], Any]) -> dict[str, float]:
        """The loop: resume, iterate steps over epochs of the loader, log, checkpoint at ``ckpt_every`` and at the end."""
        import itertools

        from tqdm import tqdm

        self._resumed_position = None
        start = self.restore(task)
        step = start
        last: dict[str, float] = {}
        bar = tqdm(total=self.cfg.steps, initial=start, disable=not (self.cfg.progress and self.dist.main), desc="train", unit="step")
        t0, seen = time.perf_counter(), 0
        if self._resumed_position is not None:
            epoch, skip = self._resumed_position
        else:  # a fresh run, or a checkpoint without its data position: every epoch is one full pass of the loader
            per_epoch = max(1, len(loader_for_epoch(0))) if start else 1
            epoch, skip = divmod(start, per_epoch)
        while step < self.cfg.steps:
            self._epoch, self._pos = epoch, skip
            batches = iter(loader_for_epoch(epoch))
            if skip:  # resume inside an epoch: the batches before the checkpoint are drawn and dropped
                batches = itertools.islice(batches, skip, None)
                skip = 0
            for batch in batches:
                if step >= self.cfg.steps:
                    break
                step += 1
                self._pos += 1
                losses = task.train_step(batch, step)
                seen += batch[0].shape[0] * self.dist.world
                last = {k: float(v) for k, v in losses.items()}
                bar.update(1)
                bar.set_postfix({k: f"{v:.4f}" for k, v in list(last.items())[:3]})
                if step % self.cfg.log_every == 0 or step == self.cfg.steps:
                    dt = time.perf_counter() - t0
                    self.record(step, {**last, "lr": task.lr(), "samples_per_s": seen / dt if dt else 0.0})
                over = self.cfg.max_minutes > 0 and time.perf_counter() - t0 > 60 * self.cfg.max_minutes
                if step % self.cfg.ckpt_every == 0 or step == self.cfg.steps or over:
                    self.save(step, task)
                    self.dist.barrier()
                if over:
                    self.log(f"time budget of {self.cfg.max_minutes:g} minutes reached at step {step} of {self.cfg.steps}; checkpoint saved")
                    self.stopped_early = step
                    break
            if self.stopped_early:
                break
            epoch += 1
            skip = 0
        bar.close()
        if self._tb:
            self._tb.close()
        return last


def unwrap(model: nn.Module) -> nn.Module:
    """The trained module under DDP (``.module``) and torch.compile (``._orig_mod``) wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def deep_copy_eval(model: nn.Module) -> nn.Module:
    return copy.deepcopy(unwrap(model)).eval()
