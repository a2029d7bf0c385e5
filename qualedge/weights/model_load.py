"""One loader for every way a model reaches qualedge: a training checkpoint (``<folder>``, ``<folder>@raw``), a
weights file (safetensors or a tensors-only torch pickle) or a model-zoo id.

The architecture comes from, in order: the ``arch`` argument, the checkpoint, the weights file's ``arch_id`` metadata,
detection from the tensor names. The hyperparameters come from the checkpoint, or the weights file's
``hyperparameters`` metadata (written by :func:`weights_metadata`), else from the tensor shapes
(``ArchSpec.infer``); explicit ``hparams`` override both. Every stage (evaluation, export, the runtime's PyTorch
backend, the zoo's bundled assets) builds models through :func:`load_model`, so a weights file loads the same way
everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qualedge.archs.descriptor import ArchSpec, ModelDescriptor
from qualedge.errors import ConfigError, WeightsError


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode on the CPU, its descriptor, and where it came from.

    ``meta`` is the checkpoint's meta (step, sampler, ...) or the weights file's string metadata; ``adapter`` is the
    LoRA adapter folder of a checkpoint that was not merged (``merge_adapter=False``), else None; a merged adapter's
    check (merged against unmerged output) is ``provenance["lora"]``.
    """

    model: nn.Module
    descriptor: ModelDescriptor
    meta: Mapping[str, Any] = field(default_factory=dict)
    adapter: Path | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)


def weights_metadata(descriptor: ModelDescriptor, **extra: Any) -> dict[str, str]:
    """The safetensors metadata that lets :func:`load_model` rebuild the model exactly (strings only)."""
    meta = {"arch_id": descriptor.arch_id, "hyperparameters": json.dumps(_jsonable(descriptor.hyperparameters), sort_keys=True)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()})
    return meta


def _jsonable(hp: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()}


def _tuples(spec: ArchSpec, hp: Mapping[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; give tuple-valued defaults their type back."""
    out = {}
    for k, v in hp.items():
        out[k] = tuple(v) if isinstance(v, list) and isinstance(spec.defaults.get(k), tuple) else v
    return out


def build_from_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    *,
    source: str,
    arch: str | None = None,
    hparams: Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> tuple[nn.Module, ModelDescriptor]:
    """Build the architecture a state dict belongs to and load it (strict, with a readable mismatch message)."""
    from qualedge.archs import detect_arch, get_arch, list_archs
    from qualedge.weights.zoo import load_into

    metadata = metadata or {}
    arch = arch or (metadata.get("arch_id") if metadata.get("arch_id") in list_archs() else None)
    spec = get_arch(arch) if arch else detect_arch(state_dict)
    stored = metadata.get("hyperparameters")
    if stored:
        try:
            base = _tuples(spec, json.loads(stored))
        except json.JSONDecodeError as exc:
            raise WeightsError(f"{source}: its 'hyperparameters' metadata is not JSON ({exc}); re-export the weights") from exc
    else:
        try:
            base = spec.infer(state_dict)
        except ValueError as exc:  # a hyperparameter the tensors do not determine (FSRCNN's deconv scale)
            if not hparams:
                raise ConfigError(f"{source}: {exc}") from exc
            base = {}
        except (KeyError, IndexError) as exc:
            raise WeightsError(
                f"{source}: the tensors do not fit the {spec.id} architecture (no {exc}); check the arch, or leave it out "
                "to detect it from the tensor names"
            ) from exc
    model, desc = spec.build(**{**base, **dict(hparams or {})})
    load_into(model, state_dict, source=source)
    return model.eval(), desc


def load_model(
    source: str | Path,
    *,
    arch: str | None = None,
    hparams: Mapping[str, Any] | None = None,
    merge_adapter: bool = True,
    allow_download: bool = False,
) -> LoadedModel:
    """Load ``source`` (checkpoint folder, ``<folder>@raw``, weights file or zoo id) into an eval-mode CPU module."""
    from qualedge.checkpoint import split_reference

    text = str(source)
    folder, _ = split_reference(text)
    if folder.is_dir():
        if (folder / "manifest.json").is_file():
            raise ConfigError(f"{text} is an exported bundle, not a model; open it with qualedge.runtime.Restorer")
        from qualedge.archs import get_arch
        from qualedge.checkpoint import read_checkpoint
        from qualedge.weights.zoo import load_into

        ck = read_checkpoint(text)
        spec = get_arch(arch or ck.arch_id)
        model, desc = spec.build(**{**ck.hyperparameters, **dict(hparams or {})})
        load_into(model, ck.state_dict, source=text)
        adapter, provenance = ck.adapter, {"checkpoint": text, "step": ck.meta.get("step")}
        if adapter is not None and merge_adapter:
            from qualedge.weights.lora import merge_lora

            model, provenance["lora"] = merge_lora(model, adapter, in_channels=desc.in_channels)
            adapter = None
        return LoadedModel(model.eval(), desc, dict(ck.meta), adapter, provenance)
    path = Path(text)
    if path.is_file():
        from qualedge.weights.load import load_state_dict, read_metadata

        meta = read_metadata(path)
        model, desc = build_from_state_dict(load_state_dict(path), source=text, arch=arch, hparams=hparams, metadata=meta)
        return LoadedModel(model, desc, meta, None, {"weights": text})
    from qualedge.weights.zoo import PRETRAINED, get_pretrained, load_pretrained, locate_sources

    if text not in {p.id for p in PRETRAINED}:
        raise ConfigError(
            f"model {text!r}: not a checkpoint folder, a weights file or a model-zoo id. Pass a path that exists, or one "
            f"of the zoo ids ('qualedge models' lists them)."
        )
    model, desc = load_pretrained(text, allow_download=allow_download)
    entry = get_pretrained(text)
    meta: dict[str, str] = {}
    if entry.source.kind == "asset":  # qualedge's own weights carry metadata (the restoration sampler, ...)
        from qualedge.weights.load import read_metadata

        meta = read_metadata(locate_sources(entry)[0])
    return LoadedModel(model, desc, meta, None, {"pretrained": text, "license": entry.license, "origin": entry.origin})
