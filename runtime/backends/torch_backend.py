"""PyTorch eager backend: the registered architecture with the bundle's safetensors weights."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import torch

from qualedge.bundle import ModelEntry
from qualedge.errors import BackendUnavailableError, UnsupportedDtypeError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    name = "torch"

    def __init__(self, weights: Path, entry: ModelEntry, *, device: str = "cpu", precision: str = "fp32", threads: int | None = None) -> None:
        from qualedge.weights.load import load_state_dict
        from qualedge.weights.model_load import build_from_state_dict

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailableError("CUDA is not available to PyTorch here; use device='cpu'")
        if precision not in DTYPES:
            raise UnsupportedDtypeError(f"precision {precision!r}: choose one of {sorted(DTYPES)}")
        desc = entry.descriptor
        if precision == "fp16" and not desc.get("supports_fp16", False):
            raise UnsupportedDtypeError(f"{entry.arch_id} is not fp16-safe; use fp32 or bf16")
        self.threads = threads
        model, _ = build_from_state_dict(load_state_dict(weights), source=str(weights), arch=entry.arch_id, hparams=entry.hyperparameters)
        if entry.role == "quality":  # the bundle's quality model runs as its dense cell map
            from qualedge.archs.quality_head import CellMap

            model = CellMap(model)
        self.device = torch.device(device)
        self.dtype = DTYPES[precision]
        # channels_last helps convolutions on CPUs (oneDNN) and GPUs; bf16 is fast where the CPU has AVX512-BF16/AMX
        self.model = model.to(self.device, self.dtype).eval().to(memory_format=torch.channels_last)
        self.precision = precision

    def run(self, x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), intra_op_threads(self.threads):
            return self.model(t).float().cpu().numpy()


@contextlib.contextmanager
def intra_op_threads(n: int | None):
    """PyTorch's intra-op threads set to ``n`` for one call and restored after: constructing a backend does not change
    the process-wide setting (``None``: leave it)."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
