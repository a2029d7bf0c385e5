"""``qualedge export-iqa METRIC -o FILE.onnx``: an IQA metric's network as a fixed-size ONNX graph (parity-checked)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("metric", help="a neural NR metric: qhead or pyiqa:<name> (e.g. pyiqa:musiq)")
    p.add_argument("-o", "--output", required=True, help="output .onnx path (a .json report is written next to it)")
    p.add_argument("--size", type=int, default=224, help="fixed input tile size (224)")
    p.add_argument("--random-weights", action="store_true", help="build without pretrained weights (checks the export path offline)")


def main(args: argparse.Namespace) -> int:
    from qualedge.export.iqa_export import export_metric_onnx

    info = export_metric_onnx(args.metric, args.output, size=args.size, pretrained=not args.random_weights)
    print(f"{info['metric']} -> {args.output} ({args.size}x{args.size}); parity worst {info['parity']['worst_psnr_db']:.1f} dB")
    return 0
