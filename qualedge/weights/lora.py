"""Merge a peft LoRA adapter into its base model (fp32), checked against the unmerged model.

The merge happens in fp32 (``merge_and_unload``) before any cast, so an exported graph is the plain base graph with
updated weights (no adapter overhead at inference). The merged model must reproduce the unmerged one on random
inputs to float precision; otherwise loading stops. Every stage merges through here (``load_model``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from qualedge.errors import WeightsError

MERGE_TOLERANCE = 1e-4


def merge_lora(base: nn.Module, adapter_dir: str | Path, *, in_channels: int, size: int = 32, seed: int = 0) -> tuple[nn.Module, dict]:
    """Return (merged module, report with the merged-vs-unmerged max |diff|)."""
    from peft import PeftModel

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise WeightsError(f"{adapter_dir}: not a peft adapter folder (adapter_config.json is missing)")
    base = base.float().eval()
    try:
        peft_model = PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=False)
    except Exception as exc:
        raise WeightsError(f"{adapter_dir}: the LoRA adapter does not fit the base model ({type(exc).__name__}: {exc})") from exc
    peft_model.eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, in_channels, size, size, generator=g)
    with torch.inference_mode():
        y_adapter = peft_model(x).clone()
    merged = peft_model.merge_and_unload().eval()
    with torch.inference_mode():
        y_merged = merged(x)
    diff = float((y_adapter - y_merged).abs().max())
    scale = float(y_adapter.abs().max()) or 1.0
    if diff > MERGE_TOLERANCE * max(1.0, scale):
        raise WeightsError(f"merged LoRA model differs from the unmerged one by {diff:.3g} (tolerance {MERGE_TOLERANCE}); not using it")
    return merged, {"adapter": str(adapter_dir), "merged_vs_unmerged_max_abs": diff, "merge_dtype": "float32"}
