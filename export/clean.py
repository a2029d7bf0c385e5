"""Step: graph clean-up with onnxslim (constant folding, dead-code removal, shape inference, op fusion).

The exporters leave Shape/Gather/Concat chains and identity ops that slow ONNX Runtime down and break TensorRT's
shape analysis; onnxslim removes them. Node metadata is kept so that precision steps can find module scopes.
"""

from __future__ import annotations

from pathlib import Path

from qualedge.errors import ExportError


def clean_onnx(src: str | Path, dst: str | Path | None = None) -> dict:
    """Slim ``src`` into ``dst`` (default: in place); returns node counts before and after."""
    import onnx
    import onnxslim

    src = Path(src)
    dst = Path(dst) if dst is not None else src
    model = onnx.load(str(src))
    before = len(model.graph.node)
    try:
        slim = onnxslim.slim(model)
    except Exception as exc:
        raise ExportError(f"onnxslim could not clean {src.name}: {type(exc).__name__}: {exc}") from exc
    onnx.save(slim, str(dst))
    return {"nodes_before": before, "nodes_after": len(slim.graph.node)}
