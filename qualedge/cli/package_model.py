"""``qualedge package-model WEIGHTS --as FILE --repo DIR``: make a trained model a shipped default (train/package.py)."""

from __future__ import annotations

import argparse

SLOTS = (
    "qualedge_compact_x4.safetensors",
    "adaqual_default.safetensors",
    "quality_head.safetensors",
    "gain_head.safetensors",
)  # train/package.py SHIPPED


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "weights", help="the trained model: a weights file or a training checkpoint folder (LoRA merged with its check)"
    )
    p.add_argument("--as", dest="asset", required=True, choices=SLOTS, help="the shipped file it becomes")
    p.add_argument(
        "--repo", default=".", help="the qualedge source checkout to write into (default: the current folder)"
    )
    p.add_argument("--card", help="its model card (markdown), copied to docs/models/")
    p.add_argument("--note", default="", help="a line recorded in the weights' metadata")


def main(args: argparse.Namespace) -> int:
    import json

    from qualedge.train.package import package_model

    written = package_model(args.weights, asset=args.asset, repo=args.repo, card=args.card, note=args.note)
    print(json.dumps(written, indent=2))
    print("commit the weights and the card together; the zoo and the defaults read the new file from the next run on")
    return 0
