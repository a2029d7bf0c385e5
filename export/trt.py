"""Step: ONNX -> TensorRT engine, written against the ``tensorrt`` Python API (10.x and 11.x).

- Strongly typed networks (``NetworkDefinitionCreationFlag.STRONGLY_TYPED``): TensorRT 11 removed the FP16/INT8
  builder flags, so precision comes from the ONNX graph (build the engine from the fp16 form for fp16 inference).
- One optimisation profile (min/opt/max input shapes); a timing cache file reused and updated across builds.
- Engine metadata next to the plan (``<plan>.json``): TensorRT version, GPU name and compute capability, shapes,
  the ONNX file's sha256: plans are not portable across TensorRT versions or GPUs, the runtime checks this.
Where ``tensorrt`` cannot be imported the step raises BackendUnavailableError with an install hint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qualedge.atomic import atomic_write_bytes, atomic_write_json
from qualedge.errors import BackendUnavailableError, ExportError

INSTALL_HINT = (
    "TensorRT is not installed here. On a machine with an NVIDIA GPU and driver: pip install 'qualedge[gpu]' "
    "(tensorrt>=10). The ONNX forms of the bundle run without it (ONNX Runtime CPU/CUDA)."
)


def import_tensorrt():
    try:
        import tensorrt as trt  # noqa: PLC0415
    except ImportError as exc:
        raise BackendUnavailableError(INSTALL_HINT) from exc
    return trt


def build_engine(
    onnx_path: str | Path,
    plan_path: str | Path,
    *,
    input_name: str,
    min_shape: tuple[int, ...],
    opt_shape: tuple[int, ...],
    max_shape: tuple[int, ...],
    timing_cache: str | Path | None = None,
    workspace_gib: int = 4,
    optimization_level: int = 3,
    precision: str = "fp32",
) -> dict[str, Any]:
    """Build and write a serialized engine; returns the metadata written beside it (the runtime checks its TensorRT
    version and ``precision``, the ONNX form's, against the manifest when it loads the plan)."""
    trt = import_tensorrt()
    from qualedge.weights.cache import sha256_file

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ExportError(f"TensorRT could not parse {onnx_path}: {errors[:5]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_gib << 30)
    config.builder_optimization_level = optimization_level
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, min_shape, opt_shape, max_shape)
    config.add_optimization_profile(profile)
    cache_path = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path and cache_path.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    atomic_write_bytes(plan_path, bytes(plan), what="TensorRT plan")
    if cache_path is not None:
        atomic_write_bytes(cache_path, bytes(config.get_timing_cache().serialize()), what="timing cache")
    meta = {
        "tensorrt_version": trt.__version__,
        "precision": precision,
        "device": _device_name(),
        "input": input_name,
        "profile": {"min": list(min_shape), "opt": list(opt_shape), "max": list(max_shape)},
        "onnx_sha256": sha256_file(onnx_path),
        "strongly_typed": bool(flags),
        "optimization_level": optimization_level,
    }
    atomic_write_json(Path(str(plan_path) + ".json"), meta, what="engine metadata")
    return meta


def _device_name() -> dict[str, Any]:
    try:
        import torch

        if torch.cuda.is_available():
            cap = torch.cuda.get_device_capability()
            return {"name": torch.cuda.get_device_name(), "sm": f"{cap[0]}{cap[1]}"}
    except Exception:  # device information is advisory
        pass
    return {"name": "unknown", "sm": "unknown"}


def check_engine_metadata(plan_path: str | Path) -> dict[str, Any]:
    """The metadata of a plan; raises when it was built for another TensorRT version."""
    trt = import_tensorrt()
    meta_p = Path(str(plan_path) + ".json")
    if not meta_p.is_file():
        raise ExportError(f"{plan_path}: engine metadata {meta_p.name} is missing; rebuild the engine")
    meta = json.loads(meta_p.read_text())
    if meta.get("tensorrt_version") != trt.__version__:
        raise ExportError(f"{plan_path} was built with TensorRT {meta.get('tensorrt_version')}, this is {trt.__version__}; rebuild it")
    return meta
