"""Inference backends behind one interface: ``run(x)`` takes an (N, C, H, W) float32 array and returns one.

- ``ort``: ONNX Runtime with the CPU, CUDA or TensorRT execution provider;
- ``torch``: PyTorch eager on the bundle's safetensors (CPU or CUDA);
- ``trt``: a TensorRT plan from the bundle (needs ``tensorrt`` and a GPU).
A requested backend or provider that is not installed fails with what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from qualedge.bundle import ModelEntry
from qualedge.errors import BackendUnavailableError, BundleError

BACKENDS = ("ort", "torch", "trt")


class Backend(Protocol):
    name: str
    precision: str

    def run(self, x: np.ndarray) -> np.ndarray: ...


def open_backend(folder: Path, entry: ModelEntry, *, backend: str = "ort", device: str = "cpu", precision: str = "fp32", threads: int | None = None) -> Backend:
    """The backend for one model of a bundle, in the requested precision."""
    if backend not in BACKENDS:
        raise BackendUnavailableError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "ort":
        from qualedge.runtime.backends.ort import OrtBackend

        form = entry.form("onnx", precision)
        if form is None:
            have = sorted({f.precision for f in entry.forms if f.format == "onnx"})
            raise BundleError(f"model {entry.name} has no {precision} ONNX form (has {have}); export it with --precision {precision}")
        from qualedge.bundle import onnx_metadata

        return OrtBackend(folder / form.path, device=device, precision=precision, threads=threads,
                          expect=onnx_metadata(entry.name, entry.role, entry.arch_id, precision))  # fmt: skip
    if backend == "torch":
        from qualedge.runtime.backends.torch_backend import TorchBackend

        form = entry.form("safetensors")
        if form is None:
            raise BundleError(f"model {entry.name} has no safetensors form for the PyTorch backend")
        return TorchBackend(folder / form.path, entry, device=device, precision=precision, threads=threads)
    from qualedge.runtime.backends.trt_backend import TrtBackend

    form = entry.form("trt-plan", precision)
    if form is None:
        raise BundleError(f"model {entry.name} has no {precision} TensorRT plan; export with --tensorrt on a GPU machine")
    return TrtBackend(folder / form.path, precision=form.precision)
