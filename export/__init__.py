"""qualedge.export: LoRA merge, ONNX export, graph clean-up, mixed precision, TensorRT engines, parity gate, bundles.

Reads checkpoints and registered models; never imports qualedge.train. The public entry point is
:func:`qualedge.export.api.export_bundle` (``qualedge export`` on the command line).
"""
