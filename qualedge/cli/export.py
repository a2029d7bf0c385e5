"""``qualedge export``: models -> a bundle folder (ONNX fp32/fp16/int8 with parity reports, optional TensorRT plans)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="bundle folder to create")
    p.add_argument("--model", required=True, help="the (compact) SR model: a pretrained id, a weights file, or a checkpoint folder")
    p.add_argument("--heavy", help="optional second SR model for low-quality tiles (same forms as --model)")
    p.add_argument("--arch", help="architecture id when --model is a weights file that detection cannot place")
    p.add_argument("--precision", default="fp32,fp16", help="forms to export, comma-separated: fp32 (always), fp16, int8 (needs --calibration)")
    p.add_argument("--calibration", help="int8: a folder of real photos to calibrate the activation ranges on (every 4th crop is held out "
                   "for the int8 gate)")
    p.add_argument("--int8-min-psnr", type=float, help="int8 gate: least PSNR in dB to the fp32 output on held-out photos (default 35)")
    p.add_argument("--int8-max-nr-change", type=float, help="int8 gate: most PIQE points the int8 output may lose against fp32 (default 5)")
    p.add_argument("--no-quality-head", action="store_true", help="do not include the quality head (no adaptive routing)")
    p.add_argument("--tile", type=int, help="export tile for fixed-tile models (SwinIR; default: the descriptor's)")
    p.add_argument("--exporter", choices=("dynamo", "legacy"), default="dynamo", help="torch.onnx exporter (dynamo)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--threshold", type=float, default=0.5, help="default quality threshold stored in the bundle")
    p.add_argument("--tensorrt", action="store_true", help="also build TensorRT plans (needs tensorrt and a GPU)")
    p.add_argument("--timing-cache", help="TensorRT timing cache file (read and updated)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")


def source_from(spec: str, name: str, arch: str | None = None):
    from pathlib import Path

    from qualedge.export.api import ModelSource

    p = Path(spec)
    if p.is_dir():
        return ModelSource(name=name, checkpoint=str(p))
    if p.is_file():
        return ModelSource(name=name, weights=str(p), arch=arch)
    return ModelSource(name=name, pretrained=spec)


def main(args: argparse.Namespace) -> int:
    from qualedge.export.api import export_bundle

    sources = [source_from(args.model, "sr", args.arch)]
    if args.heavy:
        sources.append(source_from(args.heavy, "sr_heavy", None))
    precisions = tuple(dict.fromkeys(["fp32", *[p.strip() for p in args.precision.split(",") if p.strip()]]))
    man = export_bundle(
        args.output, sources, precisions=precisions, quality_head=not args.no_quality_head, tile=args.tile,
        exporter=args.exporter, opset=args.opset, tensorrt=args.tensorrt, timing_cache=args.timing_cache,
        threshold=args.threshold, overwrite=args.overwrite, calibration=args.calibration, int8_min_psnr=args.int8_min_psnr,
        int8_max_nr_change=args.int8_max_nr_change,
    )  # fmt: skip
    for m in man.models:
        for f in m.forms:
            par = f.parity
            note = f"parity worst {par['worst_psnr_db']:.1f} dB" if par else ""
            note += f", max |diff| {par['worst_max_abs']:.2g}" if par and "worst_max_abs" in par else ""
            note += f", PIQE change {par['piqe_change']:+.2f}" if par and "piqe_change" in par else ""
            extra = f", {len(f.fp32_nodes)} fp32 fall-back nodes" if f.precision == "fp16" else ""
            print(f"{m.name:9s} {f.path:26s} {f.format:11s} {f.precision:5s} {note}{extra}")
    print(f"bundle written to {args.output}")
    return 0
