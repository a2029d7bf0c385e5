"""Step: PyTorch module -> ONNX.

PyTorch >= 2.9 exports with ``torch.export`` ("dynamo") by default; qualedge uses it with ``dynamic_shapes``
(``torch.export.Dim``) for convolutional models, so one graph serves every tile size, and a fixed tile for
window-attention models (SwinIR bakes its shift masks for one size). ``exporter="legacy"`` selects the TorchScript
exporter explicitly (``dynamo=False``, ``dynamic_axes``); it traces Python control flow once, so shape-dependent
padding is frozen: prefer dynamo.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import warnings
from pathlib import Path

import torch
from torch import nn

from qualedge.errors import ExportError

EXPORTERS = ("dynamo", "legacy")


def export_onnx(
    model: nn.Module,
    path: str | Path,
    *,
    in_channels: int,
    example_size: int = 64,
    dynamic: bool = True,
    min_size: int = 16,
    max_size: int = 4096,
    opset: int = 18,
    exporter: str = "dynamo",
    input_name: str = "x",
    output_name: str = "y",
    extra_inputs: dict[str, torch.Tensor] | None = None,
    dynamic_batch: bool = False,
) -> Path:
    """Export ``model`` (one NCHW image input, one output) to ``path``.

    Args:
        dynamic: batch, height and width are symbolic (min_size..max_size); False fixes the example shape.
        example_size: side of the example input (the fixed tile when ``dynamic`` is False).
        extra_inputs: further named inputs (kept fixed-shape), e.g. the noise of an unrolled diffusion sampler.
        dynamic_batch: with ``dynamic`` False, keep dimension 0 of every input symbolic (a fixed tile, any batch).
    """
    if exporter not in EXPORTERS:
        raise ExportError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    path = Path(path)
    model = model.eval()
    nb = 2 if dynamic_batch else 1  # an example batch of 1 would be specialised to a constant
    if extra_inputs and any(v.shape[0] != nb for v in extra_inputs.values() if v.dim()):
        raise ExportError(f"extra_inputs must have batch {nb} (the example batch) when dynamic_batch={dynamic_batch}")
    x = torch.rand(nb, in_channels, example_size, example_size)
    args = (x, *(extra_inputs or {}).values())
    names = [input_name, *(extra_inputs or {})]
    kw: dict = dict(input_names=names, output_names=[output_name], opset_version=opset)
    has_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters
    if exporter == "dynamo":
        if not has_dynamo:
            raise ExportError(f"torch {torch.__version__} has no dynamo ONNX exporter; use exporter='legacy'")
        kw["dynamo"] = True
        kw["external_data"] = False  # one self-contained file, covered by the manifest's sha256
        if dynamic:
            batch = torch.export.Dim("batch", min=1, max=256)
            h = torch.export.Dim("height", min=min_size, max=max_size)
            w = torch.export.Dim("width", min=min_size, max=max_size)
            shapes = {input_name: {0: batch, 2: h, 3: w}}
            for n in extra_inputs or {}:
                shapes[n] = None
            kw["dynamic_shapes"] = shapes
        elif dynamic_batch:
            batch = torch.export.Dim("batch", min=1, max=256)
            kw["dynamic_shapes"] = {n: {0: batch} for n in names}
        kw["verbose"] = False
    else:
        if has_dynamo:
            kw["dynamo"] = False
        if dynamic:
            kw["dynamic_axes"] = {input_name: {0: "batch", 2: "height", 3: "width"}, output_name: {0: "batch", 2: "oh", 3: "ow"}}
        elif dynamic_batch:
            kw["dynamic_axes"] = {n: {0: "batch"} for n in [*names, output_name]}
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, args, str(path), **kw)
    except Exception as exc:  # the exporters raise many unrelated types
        raise ExportError(
            f"ONNX export ({exporter}) of {type(model).__name__} failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            + (". Try exporter='legacy' or a fixed tile (dynamic=False)." if exporter == "dynamo" else "")
        ) from exc
    if not path.is_file():
        raise ExportError(f"the exporter wrote no file at {path}")
    stray = Path(str(path) + ".data")
    if stray.exists():
        raise ExportError(f"the exporter wrote external weights {stray.name}; bundles hold self-contained graphs")
    return path


def stamp_onnx(path: str | Path, props: dict[str, str]) -> Path:
    """Set ``metadata_props`` of the graph at ``path`` (replacing keys of the same name), in place."""
    import onnx

    m = onnx.load(str(path))
    keep = [p for p in m.metadata_props if p.key not in props]
    del m.metadata_props[:]
    m.metadata_props.extend(keep)
    for k, v in props.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, str(path))
    return Path(path)
