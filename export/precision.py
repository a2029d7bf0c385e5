"""Step: fp16 graph with fp32 fall-back layers (the precision lives in the graph, as TensorRT 11 requires).

Layers kept in fp32:
1. the descriptor's ``fp32_layers`` (module names): for RRDBNet the upsampling tail, where fp16 black/NaN outputs
   were reported on some GPUs;
2. every node whose fp32 activation exceeds ``overflow_limit`` (default 1/4 of fp16's maximum 65504) on calibration
   inputs, found by running the fp32 graph with all intermediate outputs exposed.
Inputs and outputs stay fp32 (``keep_io_types``), so callers do not change. Nodes are matched to modules through
the exporter's ``pkg.torch.onnx.name_scopes`` metadata, or the name of their weight initializer when that is gone.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qualedge.errors import ExportError

FP16_MAX = 65504.0


def _scope(node) -> str:
    for p in node.metadata_props:
        if p.key == "pkg.torch.onnx.name_scopes":
            try:
                parts = ast.literal_eval(p.value)
                return ".".join(s for s in parts[:-1] if s)
            except (ValueError, SyntaxError):
                return ""
    return ""


def nodes_in_modules(model, module_names: Sequence[str]) -> list[str]:
    """Names of ONNX nodes that belong to the given PyTorch modules (and their children)."""
    if not module_names:
        return []
    prefixes = tuple(module_names)
    hits = []
    for n in model.graph.node:
        scope = _scope(n)
        weight = next((i for i in n.input if i.endswith((".weight", ".bias"))), "")
        owner = scope or weight.rsplit(".", 1)[0]
        if owner and any(owner == p or owner.startswith(p + ".") for p in prefixes):
            hits.append(n.name)
    return hits


def overflowing_nodes(fp32_path: str | Path, inputs: Sequence[np.ndarray], *, limit: float = FP16_MAX / 4) -> dict[str, float]:
    """Nodes whose output magnitude exceeds ``limit`` on any of ``inputs`` (name -> max |value|)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(fp32_path))
    produced = {o: n.name for n in model.graph.node for o in n.output if o}
    existing = {o.name for o in model.graph.output}
    for out in produced:
        if out not in existing:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(out))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    in_name = sess.get_inputs()[0].name
    peaks: dict[str, float] = {}
    for x in inputs:
        for name, val in zip(names, sess.run(None, {in_name: x.astype(np.float32)})):
            if name in produced and np.issubdtype(np.asarray(val).dtype, np.floating) and np.asarray(val).size:
                m = float(np.nanmax(np.abs(val)))
                peaks[produced[name]] = max(peaks.get(produced[name], 0.0), m)
    return {n: v for n, v in peaks.items() if v > limit}


def to_fp16(
    fp32_path: str | Path,
    fp16_path: str | Path,
    *,
    fp32_modules: Sequence[str] = (),
    calibration: Sequence[np.ndarray] = (),
    overflow_limit: float = FP16_MAX / 4,
) -> dict:
    """Write the mixed-precision graph; returns the fp32 fall-back nodes and why each was kept."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    by_module = nodes_in_modules(model, fp32_modules)
    by_overflow = overflowing_nodes(fp32_path, calibration, limit=overflow_limit) if calibration else {}
    block = sorted(set(by_module) | set(by_overflow))
    try:
        fp16 = convert_float_to_float16(model, keep_io_types=True, node_block_list=block, disable_shape_infer=False)
    except Exception as exc:
        raise ExportError(f"fp16 conversion of {Path(fp32_path).name} failed: {type(exc).__name__}: {exc}") from exc
    onnx.save(fp16, str(fp16_path))
    return {
        "fp32_nodes": block,
        "fp32_modules": list(fp32_modules),
        "overflow_nodes": {k: round(v, 1) for k, v in by_overflow.items()},
        "overflow_limit": overflow_limit,
    }
