"""ONNX Runtime backend (CPU, CUDA, TensorRT execution providers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qualedge.errors import BackendUnavailableError, BundleError

PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


class OrtBackend:
    name = "ort"

    def __init__(self, path: Path, *, device: str = "cpu", precision: str = "fp32", threads: int | None = None, expect: dict[str, str] | None = None) -> None:
        """``expect``: the qualedge metadata the graph must carry (qualedge.bundle.onnx_metadata of its manifest entry)."""
        import onnxruntime as ort

        if device not in PROVIDERS:
            raise BackendUnavailableError(f"unknown ONNX Runtime device {device!r}; choose one of {sorted(PROVIDERS)}")
        wanted = PROVIDERS[device]
        if wanted[0] not in ort.get_available_providers():
            raise BackendUnavailableError(
                f"ONNX Runtime here has no {wanted[0]} (available: {ort.get_available_providers()}). "
                "Install onnxruntime-gpu (pip install 'qualedge[gpu]') on a machine with CUDA, or use device='cpu'."
            )
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            so.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=so, providers=wanted)
        except Exception as exc:  # corrupt or truncated graph, unsupported op
            raise BundleError(f"{path}: ONNX Runtime cannot load this graph ({type(exc).__name__}: {str(exc)[:200]}). Re-export the bundle.") from exc
        if expect:
            from qualedge.bundle import check_onnx_metadata

            check_onnx_metadata(dict(self.session.get_modelmeta().custom_metadata_map), expect, path)
        self.input = self.session.get_inputs()[0].name
        self.precision = precision
        self.providers = self.session.get_providers()

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0]
