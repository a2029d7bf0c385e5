"""``qualedge fit-niqe FOLDER -o model.npz``: fit NIQE's pristine model on your own pristine photos."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", help="folder of pristine (high-quality) photos")
    p.add_argument("-o", "--output", required=True, help="output .npz (mu_prisparam, cov_prisparam)")
    p.add_argument("--sharpness-threshold", type=float, default=0.75, help="keep blocks sharper than this x the sharpest (0.75)")


def main(args: argparse.Namespace) -> int:
    from qualedge.iqa.niqe_fit import fit_niqe_folder

    n_img, n_blocks = fit_niqe_folder(args.folder, args.output, sharpness_threshold=args.sharpness_threshold)
    print(f"fitted NIQE on {n_blocks} blocks from {n_img} images -> {args.output}; use create_metric('niqe', model_path=...)")
    return 0
