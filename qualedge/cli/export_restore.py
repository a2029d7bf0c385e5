"""``qualedge export-restore``: an AdaQual-Diff checkpoint -> a restoration bundle (per-step and unrolled graphs)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="bundle folder to create")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a train-restore run folder (its latest checkpoint) or checkpoint folder")
    src.add_argument("--weights", help="an adaqual_unet safetensors file (architecture detected from the tensors)")
    p.add_argument("--tile", type=int, default=256, help="the graphs' fixed tile side, a multiple of 16 (256)")
    p.add_argument("--steps", type=int, help="DDIM steps K unrolled into the graph (default: the checkpoint's, 2)")
    p.add_argument("--overlap", type=int, help="runtime tile overlap stored in the bundle (default min(32, tile/4))")
    p.add_argument("--seed", type=int, default=0, help="default noise seed stored in the bundle (0)")
    p.add_argument("--exporter", choices=("dynamo", "legacy"), default="dynamo")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.add_argument("--precision", default="fp32", help="forms to export, comma-separated: fp32 (always), int8 (needs --calibration)")
    p.add_argument("--calibration", help="int8: a folder of real photos; tile-sized crops are degraded with the 11 composite types in turn "
                   "(every 4th crop is held out for the int8 gate)")
    p.add_argument("--int8-min-psnr", type=float, help="int8 gate: least PSNR in dB to the fp32 graph's restored tile on held-out crops (default 35)")
    p.add_argument("--int8-max-nr-change", type=float, help="int8 gate: most PIQE points the int8 output may lose against fp32 (default 5)")


def main(args: argparse.Namespace) -> int:
    from qualedge.export.restore_export import export_restore_bundle

    man = export_restore_bundle(
        args.output, checkpoint=args.checkpoint, weights=args.weights, tile=args.tile, steps=args.steps, exporter=args.exporter,
        opset=args.opset, overwrite=args.overwrite, overlap=args.overlap, seed=args.seed,
        precisions=tuple(dict.fromkeys(["fp32", *[p.strip() for p in args.precision.split(",") if p.strip()]])), calibration=args.calibration,
        int8_min_psnr=args.int8_min_psnr, int8_max_nr_change=args.int8_max_nr_change,
    )  # fmt: skip
    for m in man.models:
        for f in m.forms:
            par = f.parity
            note = f"parity worst {par['worst_psnr_db']:.1f} dB" + (f", max |diff| {par['worst_max_abs']:.2g}" if "worst_max_abs" in par else "") if par else ""
            print(f"{m.name:13s} {m.role:17s} {f.path:26s} {f.format:11s} {note}")
    print(f"restoration bundle written to {args.output} (K = {man.restoration_policy().steps} steps, tile {man.restoration_policy().tile})")
    return 0
