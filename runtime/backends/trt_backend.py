"""TensorRT backend: runs a serialized plan from the bundle with torch CUDA tensors as I/O buffers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qualedge.errors import BackendUnavailableError

INSTALL_HINT = "TensorRT is not installed: pip install 'qualedge[gpu]' (tensorrt>=10) on a machine with an NVIDIA GPU."


class TrtBackend:
    name = "trt"

    def __init__(self, plan: Path, *, precision: str) -> None:
        """``precision``: the manifest's; the plan's sidecar metadata (``<plan>.json``, written by the export) must
        name the TensorRT version that runs it and the same precision."""
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise BackendUnavailableError(INSTALL_HINT) from exc
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailableError("the TensorRT backend needs a CUDA device")
        self.trt, self.torch = trt, torch
        import json

        from qualedge.errors import BundleError

        meta_p = Path(str(plan) + ".json")
        if not meta_p.is_file():
            raise BundleError(f"{plan}: its engine metadata {meta_p.name} is missing; rebuild the engine ('qualedge export --tensorrt')")
        meta = json.loads(meta_p.read_text())
        if meta.get("tensorrt_version") != trt.__version__:
            raise BackendUnavailableError(f"{plan} was built with TensorRT {meta.get('tensorrt_version')}, this is {trt.__version__}; rebuild it")
        if meta.get("precision", precision) != precision:
            raise BundleError(f"{plan}: its metadata says precision {meta.get('precision')!r}, the manifest {precision!r}; rebuild the engine")
        logger = trt.Logger(trt.Logger.WARNING)
        self.engine = trt.Runtime(logger).deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise BackendUnavailableError(f"{plan}: TensorRT could not deserialize this plan (other TensorRT version or GPU?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.precision = precision

    def run(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        inp = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).cuda()
        self.context.set_input_shape(self.input, tuple(inp.shape))
        out = torch.empty(tuple(self.context.get_tensor_shape(self.output)), dtype=torch.float32, device="cuda")
        self.context.set_tensor_address(self.input, inp.data_ptr())
        self.context.set_tensor_address(self.output, out.data_ptr())
        stream = torch.cuda.current_stream()
        self.context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()
        return out.cpu().numpy()
