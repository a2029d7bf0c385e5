"""Training checkpoints: the folder ``train/`` writes and ``export/`` reads (export never imports train).

```
<checkpoint>/
  model.safetensors      weights of the model (EMA weights when training kept an EMA)
  model_raw.safetensors  the raw (non-EMA) weights, when training kept an EMA
  model.json             {"arch_id": ..., "hyperparameters": {...}, "step": N, "config": {...}, "resolved": {...}}
  adapter/               optional peft LoRA adapter (adapter_config.json + adapter_model.safetensors; EMA when kept)
  adapter_raw/           the raw adapter, when training kept an EMA
  training_state.pt      optimiser/scheduler/RNG state for resuming (ignored by export)
```

A checkpoint reference ``<folder>@raw`` selects the raw weights (and raw adapter), ``<folder>@ema`` (the default) the
EMA ones: evaluation can judge both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qualedge.errors import WeightsError, WeightsNotFoundError

MODEL_FILE = "model.safetensors"
RAW_FILE = "model_raw.safetensors"
META_FILE = "model.json"
ADAPTER_DIR = "adapter"
RAW_ADAPTER_DIR = "adapter_raw"
WEIGHTS = ("ema", "raw")


@dataclass
class Checkpoint:
    folder: Path
    arch_id: str
    hyperparameters: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    adapter: Path | None
    meta: dict[str, Any]
    weights: str = "ema"  # which weights state_dict holds: "ema" (model.safetensors) or "raw"


def split_reference(ref: str | Path) -> tuple[Path, str]:
    """``<folder>@raw`` / ``<folder>@ema`` -> (folder, weights); a plain folder -> (folder, "ema")."""
    s = str(ref)
    head, sep, tail = s.rpartition("@")
    if sep and tail in WEIGHTS and head:
        return Path(head), tail
    return Path(s), "ema"


def resolve_checkpoint(folder: str | Path) -> Path:
    """A checkpoint folder, or a training run folder (``<out>`` with ``latest.json``) -> its latest checkpoint."""
    folder = Path(folder)
    latest = folder / "latest.json"
    if not (folder / META_FILE).is_file() and latest.is_file():
        try:
            return folder / json.loads(latest.read_text())["path"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise WeightsError(f"{latest}: malformed ({exc}); point at a checkpoint folder inside {folder} instead.") from exc
    return folder


def read_checkpoint(folder: str | Path) -> Checkpoint:
    """Read a checkpoint folder (or a run folder's latest checkpoint); ``<folder>@raw`` reads the raw weights."""
    from qualedge.weights.load import load_state_dict

    ref, weights = split_reference(folder)
    folder = resolve_checkpoint(ref)
    meta_p, model_p = folder / META_FILE, folder / (RAW_FILE if weights == "raw" else MODEL_FILE)
    if weights == "raw" and not model_p.is_file() and (folder / MODEL_FILE).is_file():
        raise WeightsNotFoundError(f"{folder} has no raw weights ({RAW_FILE}): its run kept no EMA, so {MODEL_FILE} holds the raw weights; drop '@raw'.")
    if not meta_p.is_file() or not model_p.is_file():
        raise WeightsNotFoundError(
            f"{folder} is not a qualedge checkpoint: it needs {META_FILE} and {MODEL_FILE} (written by qualedge train-sr / "
            "finetune-sr / train-restore)."
        )
    try:
        meta = json.loads(meta_p.read_text())
        arch_id, hp = meta["arch_id"], meta["hyperparameters"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise WeightsError(f"{meta_p}: malformed checkpoint metadata ({exc}).") from exc
    adapter = folder / (RAW_ADAPTER_DIR if weights == "raw" and (folder / RAW_ADAPTER_DIR).is_dir() else ADAPTER_DIR)
    return Checkpoint(folder, arch_id, hp, load_state_dict(model_p), adapter if adapter.is_dir() else None, meta, weights)


def write_model(
    folder: str | Path, *, arch_id: str, hyperparameters: dict[str, Any], state_dict: dict[str, torch.Tensor], meta: dict[str, Any] | None = None,
    raw_state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:  # fmt: skip
    """Write model.safetensors (and model_raw.safetensors) and model.json atomically (the adapter and training state
    are written by train)."""
    from qualedge.atomic import atomic_write_json
    from qualedge.weights.load import save_state_dict

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(folder / MODEL_FILE, state_dict)
    if raw_state_dict is not None:
        save_state_dict(folder / RAW_FILE, raw_state_dict)
    atomic_write_json(folder / META_FILE, {"arch_id": arch_id, "hyperparameters": hyperparameters, **(meta or {})})
    return folder
