"""Load a state dict from safetensors, torch checkpoints (zip or legacy pickle) and unwrap training wrappers.

Pickles are only ever read with ``torch.load(weights_only=True)``: the restricted unpickler refuses arbitrary
objects, so a checkpoint cannot run code on load.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from qualedge.errors import WeightsFormatError, WeightsNotFoundError

# Keys under which training frameworks nest the weights, in order of preference (EMA first).
_WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "generator", "net_g")


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            sd = dict(obj)
            prefix = "module."
            if all(k.startswith(prefix) for k in sd):  # saved from DataParallel / DDP
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
            return sd
        for key in _WRAPPER_KEYS:
            if key in obj:
                return _unwrap(obj[key], path)
    raise WeightsFormatError(
        f"{path}: holds no tensor state dict (top-level type {type(obj).__name__}"
        + (f", keys {list(obj)[:8]}" if isinstance(obj, Mapping) else "")
        + f"). qualedge looks for a flat name->tensor mapping or one under {list(_WRAPPER_KEYS)}."
    )


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read weights from ``.safetensors``, ``.pth``/``.pt``/``.ckpt`` (zip or legacy pickle).

    Raises:
        WeightsNotFoundError: the file does not exist.
        WeightsFormatError: it is not a weights file, or a pickle that needs arbitrary code to load.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights file {path} not found. Check the path.")
    if path.stat().st_size == 0:
        raise WeightsFormatError(f"{path}: the weights file is empty (0 bytes). Download or copy it again.")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise WeightsFormatError(f"{path}: not a valid safetensors file ({exc}). Download or copy it again.") from exc
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsFormatError(
            f"{path}: the checkpoint needs objects beyond tensors to load ({str(exc).splitlines()[0]}). qualedge loads "
            "pickles with weights_only=True only; re-save just the state dict (torch.save(model.state_dict(), ...)) "
            "or convert it to safetensors."
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise WeightsFormatError(
            f"{path}: not a readable torch checkpoint ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}). "
            "The file is truncated or in another format."
        ) from exc
    return _unwrap(obj, path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file ({} for other formats, which carry none)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError) as exc:
        raise WeightsFormatError(f"{path}: not a valid safetensors file ({exc}). Download or copy it again.") from exc


def save_state_dict(path: str | Path, state_dict: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> Path:
    """Write a state dict as safetensors, atomically."""
    from safetensors.torch import save_file

    from qualedge.atomic import atomic_save

    sd = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    return atomic_save(path, lambda tmp: save_file(sd, str(tmp), metadata=dict(metadata or {})), what="weights")
