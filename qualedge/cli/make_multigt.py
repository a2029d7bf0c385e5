"""``qualedge make-multigt FOLDER -o ROOT``: candidate ground truths (HGGT layout) from real enhancement operators."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="folder of HR images")
    p.add_argument("-o", "--output", required=True, help="root of the HGGT-style layout to write")
    p.add_argument("--sr-model", default="realesr-animevideov3", help="pretrained SR model for candidate 01")
    p.add_argument("--labels", help="optional JSON with human labels per image and candidate")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    from qualedge.train.multigt import make_multigt

    n = make_multigt(args.folder, args.output, sr_model=args.sr_model, labels=args.labels, max_images=args.max_images, progress=not args.no_progress)
    print(f"{n} groups in {args.output}")
    return 0
