"""The explicit, ordered list of architectures. Adding one: write ``qualedge/archs/<id>.py`` with ``SPEC`` and
append it here. Nothing is discovered at import time."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from qualedge.archs import (
    adaqual,
    dncnn,
    espcn,
    fsrcnn,
    gain_head,
    quality_head,
    rrdbnet,
    srvgg,
    swinir,
    unet_disc,
    upconv7,
)
from qualedge.archs.descriptor import ArchSpec, ModelDescriptor
from qualedge.errors import UnsupportedModelError

# Detection order matters: more specific key patterns first.
ARCHS: tuple[ArchSpec, ...] = (
    rrdbnet.SPEC,
    swinir.SPEC,
    adaqual.SPEC,
    unet_disc.SPEC,
    upconv7.SPEC,
    fsrcnn.SPEC,
    espcn.SPEC,
    quality_head.SPEC,  # an exact key set: before srvgg, whose "body.N" pattern it shares
    srvgg.SPEC,
    dncnn.SPEC,
    gain_head.SPEC,
)


def _check_unique() -> None:
    ids = [a.id for a in ARCHS]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuntimeError(f"duplicate architecture ids in qualedge.archs.registry: {sorted(dupes)}")


_check_unique()


def list_archs() -> list[str]:
    return [a.id for a in ARCHS]


def get_arch(arch_id: str) -> ArchSpec:
    """The spec for ``arch_id``. Unknown ids raise with close matches (never auto-corrected)."""
    for a in ARCHS:
        if a.id == arch_id:
            return a
    close = difflib.get_close_matches(arch_id, list_archs(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnsupportedModelError(f"unknown architecture {arch_id!r}.{hint} Known: {', '.join(list_archs())}.")


def build_model(arch_id: str, preset: str | None = None, **hyperparameters: Any) -> tuple[nn.Module, ModelDescriptor]:
    """Construct a registered architecture with random weights (no I/O) and its descriptor."""
    return get_arch(arch_id).build(preset, **hyperparameters)


def detect_arch(state_dict: Mapping[str, torch.Tensor]) -> ArchSpec:
    """Find the architecture a state dict belongs to."""
    for a in ARCHS:
        if a.detect(state_dict):
            return a
    keys = list(state_dict)[:6]
    raise UnsupportedModelError(
        f"the state dict matches no registered architecture (first keys: {keys}). "
        f"Known: {', '.join(list_archs())}; pass arch_id explicitly if it is one of them."
    )
