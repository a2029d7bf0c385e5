"""Training checkpoints: the folder ``train/`` writes and ``export/`` reads (export never imports train).

```
<checkpoint>/
  model.safetensors      weights of the model (EMA weights when training kept an EMA)
  model.json             {"arch_id": ..., "hyperparameters": {...}, "step": N, "config": {...resolved training config...}}
  adapter/               optional peft LoRA adapter (adapter_config.json + adapter_model.safetensors)
  training_state.pt      optimiser/scheduler/RNG state for resuming (ignored by export)
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from qualedge.errors import WeightsError, WeightsNotFoundError

MODEL_FILE = "model.safetensors"
META_FILE = "model.json"
ADAPTER_DIR = "adapter"


@dataclass
class Checkpoint:
    folder: Path
    arch_id: str
    hyperparameters: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    adapter: Path | None
    meta: dict[str, Any]


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
    """Read a checkpoint folder (or a run folder's latest checkpoint)."""
    from qualedge.weights.load import load_state_dict

    folder = resolve_checkpoint(folder)
    meta_p, model_p = folder / META_FILE, folder / MODEL_FILE
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
    adapter = folder / ADAPTER_DIR
    return Checkpoint(folder, arch_id, hp, load_state_dict(model_p), adapter if adapter.is_dir() else None, meta)


def write_model(folder: str | Path, *, arch_id: str, hyperparameters: dict[str, Any], state_dict: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> Path:
    """Write model.safetensors and model.json atomically (the adapter and training state are written by train)."""
    from qualedge.atomic import atomic_write_json
    from qualedge.weights.load import save_state_dict

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_state_dict(folder / MODEL_FILE, state_dict)
    atomic_write_json(folder / META_FILE, {"arch_id": arch_id, "hyperparameters": hyperparameters, **(meta or {})})
    return folder
