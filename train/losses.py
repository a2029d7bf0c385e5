"""Losses for SR training: L1, perceptual (pluggable feature extractor), vanilla GAN.

Perceptual networks (``PerceptualConfig.network``):
- ``vgg19``: torchvision's ImageNet VGG19, pre-ReLU features conv1_2, conv2_2, conv3_4, conv4_4, conv5_4 with HGGT's
  weights 0.1, 0.1, 1, 1, 1 and an L1 criterion. Its weights come from torchvision's cache (downloaded once when
  online). When they cannot be had, ``fallback`` decides: ``error`` (stop; the default, since vgg19 was asked for),
  ``qhead`` or ``none``.
- ``auto`` (the default): vgg19 when its weights are present or downloadable, else the quality head's features (a
  real trained network that ships with qualedge; offline machines get this).
- ``qhead`` or ``none`` directly.

Whatever was chosen is never silent: ``PerceptualLoss.source`` names it, training records it in config.json
(``resolved.perceptual_extractor``), every metrics.csv row and every checkpoint's model.json, and the cards quote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from qualedge import paths
from qualedge.errors import ConfigError, WeightsNotFoundError

VGG_LAYERS = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}
VGG_FILE = "vgg19-dcbb9e9d.pth"


@dataclass(frozen=True)
class PerceptualConfig:
    network: str = "auto"  # "auto" (vgg19, else qhead) | "vgg19" | "qhead" | "none"
    fallback: str = "error"  # network = "vgg19" and its weights unavailable: "error" | "qhead" | "none"
    layer_weights: dict[str, float] = field(default_factory=lambda: {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0})


class _VGGFeatures(nn.Module):
    def __init__(self, layer_weights: dict[str, float]) -> None:
        super().__init__()
        import torchvision

        path = Path(torch.hub.get_dir()) / "checkpoints" / VGG_FILE
        if not path.is_file():
            if paths.offline():
                raise WeightsNotFoundError(f"VGG19 weights {VGG_FILE} not found at {path} and offline mode is on")
            net = torchvision.models.vgg19(weights=torchvision.models.VGG19_Weights.IMAGENET1K_V1)
        else:
            net = torchvision.models.vgg19()
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        unknown = set(layer_weights) - set(VGG_LAYERS)
        if unknown:
            raise ConfigError(f"perceptual.layer_weights: unknown VGG layers {sorted(unknown)}; known: {sorted(VGG_LAYERS)}")
        last = max(VGG_LAYERS[k] for k in layer_weights)
        self.features = net.features[: last + 1].eval()
        self.taps = {VGG_LAYERS[k]: w for k, w in layer_weights.items()}
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:  # pre-ReLU: the tap is the conv output
                out.append((x, self.taps[i]))
        return out


class _QHeadFeatures(nn.Module):
    """Feature taps of qualedge's quality head (after each ReLU), weighted equally."""

    def __init__(self) -> None:
        super().__init__()
        from qualedge.iqa.head import load_quality_head

        self.head = load_quality_head()

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
        x = (x - 0.5) / 0.25
        out = []
        for layer in self.head.body:
            x = layer(x)
            if isinstance(layer, nn.ReLU):
                out.append((x, 1.0))
        return out


class PerceptualLoss(nn.Module):
    def __init__(self, cfg: PerceptualConfig, log=print) -> None:
        super().__init__()
        self.extractor: nn.Module | None = None
        self.source = cfg.network
        network = cfg.network
        if network not in ("auto", "vgg19", "qhead", "none"):
            raise ConfigError(f"perceptual.network must be auto, vgg19, qhead or none, got {network!r}")
        if cfg.fallback not in ("error", "qhead", "none"):
            raise ConfigError(f"perceptual.fallback must be error, qhead or none, got {cfg.fallback!r}")
        if network in ("vgg19", "auto"):
            fallback = "qhead" if network == "auto" else cfg.fallback
            try:
                self.extractor = _VGGFeatures(cfg.layer_weights)
                network = self.source = "vgg19"
            except (WeightsNotFoundError, OSError, RuntimeError) as exc:
                if fallback == "error":
                    raise WeightsNotFoundError(
                        f"perceptual loss: VGG19 weights unavailable ({exc}). Put {VGG_FILE} in {Path(torch.hub.get_dir()) / 'checkpoints'} "
                        "or set perceptual.fallback = 'qhead' or 'none'."
                    ) from exc
                why = "network = 'auto'" if cfg.network == "auto" else f"perceptual.fallback = '{fallback}'"
                log(f"perceptual loss: VGG19 weights unavailable ({str(exc).splitlines()[0]}); {why} uses {fallback}")
                network = fallback
                self.source = f"{fallback} (vgg19 weights unavailable)"
        if network == "qhead":
            self.extractor = _QHeadFeatures()
        if self.extractor is not None:
            for p in self.extractor.parameters():
                p.requires_grad_(False)
            self.extractor.eval()
        log(f"perceptual loss: {self.source}")

    @property
    def enabled(self) -> bool:
        return self.extractor is not None

    def forward(self, sr: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        if self.extractor is None:
            return sr.new_zeros(())
        fs, fg = self.extractor(sr), self.extractor(gt.detach())
        return sum(w * F.l1_loss(a, b.detach()) for (a, w), (b, _) in zip(fs, fg))


def gan_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Vanilla GAN loss (binary cross-entropy with logits), per-pixel maps averaged."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)
