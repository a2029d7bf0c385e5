"""Export an IQA metric's network (pyiqa-style) to ONNX at a fixed tile size, through the parity gate.

Metrics with data-dependent preprocessing (MUSIQ's multi-scale patching, random crops) become static graphs once
the input size is fixed, which is also how a runtime scores a tile grid. Writes ``<path>`` and ``<path>.json`` (the
parity report and the metric's spec). ``pretrained=False`` builds the network with random weights (for checking the
export path offline); scores are then meaningless.
"""

from __future__ import annotations

from pathlib import Path

import torch

from qualedge.atomic import atomic_save, atomic_write_json
from qualedge.errors import ExportError
from qualedge.iqa.metrics import get_spec


def _network(metric_id: str, pretrained: bool) -> torch.nn.Module:
    spec = get_spec(metric_id)
    if spec.mode != "NR":
        raise ExportError(f"{spec.id}: only no-reference metrics are exported as single-input graphs")
    if spec.backend == "builtin":
        if spec.id != "qhead":
            raise ExportError(f"{spec.id} is not a neural network (statistics-based); it has no ONNX form")
        from qualedge.iqa.head import load_quality_head

        return load_quality_head()
    from qualedge.iqa.pyiqa_backend import install

    install()
    import pyiqa

    kwargs = {} if pretrained else {"pretrained": False}
    try:
        net = pyiqa.create_metric(spec.id[len("pyiqa:") :], **kwargs).net
    except TypeError as exc:
        raise ExportError(f"{spec.id}: pyiqa cannot build it without weights ({exc})") from exc
    return net.eval()


def export_metric_onnx(metric_id: str, path: str | Path, *, size: int = 224, pretrained: bool = True, opset: int = 18) -> dict:
    from qualedge.export.onnx_export import export_onnx
    from qualedge.export.parity import check_parity, ort_runner, parity_inputs

    path = Path(path)
    net = _network(metric_id, pretrained)
    atomic_save(path, lambda tmp: export_onnx(net, tmp, in_channels=3, example_size=size, dynamic=False, opset=opset), what="ONNX graph")

    class _Scores(torch.nn.Module):  # the gate compares flattened scores
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return net(x).reshape(x.shape[0], -1)

    run = ort_runner(path)
    try:
        report = check_parity(
            _Scores(), lambda x: run(x).reshape(x.shape[0], -1), parity_inputs(3, [size], seed=1),
            precision="fp32", value_range=(-1e6, 1e6), label=f"{metric_id} fp32",
        )  # fmt: skip
    except Exception:
        path.unlink(missing_ok=True)
        raise
    spec = get_spec(metric_id)
    info = {"metric": spec.id, "size": size, "pretrained": pretrained, "higher_is_better": spec.higher_is_better, "parity": report}
    atomic_write_json(Path(str(path) + ".json"), info)
    return info


__all__ = ["export_metric_onnx"]
