"""``qualedge make-distill FOLDER -o OUT``: (LR, teacher SR) pairs for distilling a fast model from a heavy one."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="folder of photos")
    p.add_argument("-o", "--output", required=True, help="output root (lr/ and hr/ are written)")
    p.add_argument("--teacher", default="realesrgan-x4plus")
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--lr-size", type=int, default=48)
    p.add_argument("--degradation", choices=("blind", "bicubic"), default="blind")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--device", default="cpu", help="where the teacher runs: cpu, cuda or auto (cpu)")


def main(args: argparse.Namespace) -> int:
    from qualedge.train.distill import make_distill

    n = make_distill(args.folder, args.output, teacher=args.teacher, count=args.count, lr_size=args.lr_size, degradation=args.degradation, seed=args.seed, progress=not args.no_progress, device=args.device)
    print(f"{n} pairs in {args.output}")
    return 0
