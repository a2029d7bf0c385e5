"""A registered architecture (``ArchSpec``): module, defaults, presets, detection and the descriptor it yields.
The descriptor types themselves are torch-free, in ``qualedge.descriptor``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from qualedge.descriptor import ModelDescriptor, SizeRequirements, Tiling

__all__ = ["ArchSpec", "ModelDescriptor", "SizeRequirements", "Tiling"]


@dataclass(frozen=True)
class ArchSpec:
    """One registered architecture.

    Attributes:
        id: registry id (lower-case, as used on the command line and in manifests).
        name: human-readable name with its origin.
        module: the nn.Module class; its constructor takes keyword-only hyperparameters and does no I/O.
        defaults: hyperparameters of the default configuration.
        presets: named configurations (for example SwinIR's classical and real-SR ones).
        describe: ``describe(hyperparameters) -> dict`` of the descriptor fields that depend on them.
        detect: ``detect(state_dict) -> bool``: does this state dict belong to this architecture?
        infer: ``infer(state_dict) -> hyperparameters`` recovered from tensor shapes.
        license: licence of the original architecture design/code it follows.
        paper: reference.
    """

    id: str
    name: str
    module: type[nn.Module]
    defaults: Mapping[str, Any]
    describe: Callable[[Mapping[str, Any]], dict[str, Any]]
    detect: Callable[[Mapping[str, torch.Tensor]], bool]
    infer: Callable[[Mapping[str, torch.Tensor]], dict[str, Any]]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    license: str = ""
    paper: str = ""

    def resolve(self, preset: str | None = None, **overrides: Any) -> dict[str, Any]:
        """Defaults, then a preset, then explicit overrides; unknown keys are an error."""
        hp = dict(self.defaults)
        if preset is not None:
            if preset not in self.presets:
                from qualedge.errors import UnsupportedModelError

                raise UnsupportedModelError(f"{self.id}: unknown preset {preset!r}; choose one of {sorted(self.presets)}")
            hp.update(self.presets[preset])
        unknown = set(overrides) - set(hp)
        if unknown:
            from qualedge.errors import ConfigError

            raise ConfigError(f"{self.id}: unknown hyperparameters {sorted(unknown)}; known: {sorted(hp)}")
        hp.update(overrides)
        return hp

    def build(self, preset: str | None = None, **overrides: Any) -> tuple[nn.Module, ModelDescriptor]:
        """Construct the module (no I/O, random weights) and its descriptor."""
        hp = self.resolve(preset, **overrides)
        model = self.module(**hp)
        return model, self.descriptor(hp, model)

    def descriptor(self, hp: Mapping[str, Any], model: nn.Module | None = None) -> ModelDescriptor:
        if model is None:
            with torch.device("meta"):
                model = self.module(**hp)
        fields = self.describe(hp)
        return ModelDescriptor(
            arch_id=self.id,
            hyperparameters=dict(hp),
            param_count=sum(p.numel() for p in model.parameters()),
            **fields,
        )
