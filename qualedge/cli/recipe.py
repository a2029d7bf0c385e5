"""``qualedge recipe NAME -o DIR``: train one default model in one command, sized for a lent GPU (see train/recipes.py)."""

from __future__ import annotations

import argparse

RECIPE_NAMES = ("compact-sr", "quality-head", "restoration")  # train/recipes.py RECIPES; kept here so --help imports nothing heavy


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", choices=RECIPE_NAMES, help="which default model to train")
    p.add_argument("-o", "--out", required=True, help="output folder (run, weights <name>.safetensors, recipe.json)")
    p.add_argument("--photos", action="append", help="training photo folder (repeatable); default: the data folder's training sets")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--tiny", action="store_true", help="a few steps on tiny crops: checks the recipe on a CPU")
    p.add_argument("--compile", action="store_true", help="torch.compile the model on CUDA")
    p.add_argument("--minutes", type=float, default=9.0, help="training time budget per step of the recipe (9)")


def main(args: argparse.Namespace) -> int:
    from qualedge import paths
    from qualedge.train.recipes import run_recipe

    run_recipe(args.name, args.out, photos=args.photos, data_root=paths.shared_data_dir(), tiny=args.tiny, device=args.device,
               compile=args.compile, minutes=args.minutes)  # fmt: skip
    return 0
