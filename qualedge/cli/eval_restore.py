"""``qualedge eval-restore``: PSNR/SSIM (RGB and Y) per degradation type (see train/restore_eval.py)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", required=True, help="NAME=PATH: run/checkpoint folder, weights file or restoration bundle (repeatable)")
    p.add_argument("--clean", help="folder of held-out clean photos, degraded synthetically with every type")
    p.add_argument("--layout", choices=("cdd11", "allweather", "outdoor_rain", "snow100k", "raindrop"), help="a published paired test set instead")
    p.add_argument("--root", help="root folder of --layout")
    p.add_argument("--split", default="test", help="split folder for the cdd11 layout (test)")
    p.add_argument("--types", help="comma-separated CDD-11 types (default: all 11)")
    p.add_argument("--crop", type=int, default=256, help="centre crop for synthetic sets, a multiple of 16 (0: whole images)")
    p.add_argument("--limit", type=int, help="use only the first N images")
    p.add_argument("--seed", type=int, default=1234, help="degradation seed of the synthetic set (1234)")
    p.add_argument("-o", "--out", help="folder for eval_restore.json and eval_restore.md")
    p.add_argument("--title", default="", help="table title")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qualedge.atomic import atomic_write_json, atomic_write_text
    from qualedge.data.degradations.composite import TYPES
    from qualedge.errors import ConfigError
    from qualedge.train.restore_eval import evaluate, markdown, paired_items, synthetic_items

    models = []
    for spec in args.model:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--model {spec!r}: expected NAME=PATH")
        if (Path(path) / "manifest.json").is_file():  # a restoration bundle: evaluated as deployed, through the runtime
            from qualedge.runtime.diffusion_restorer import image_runner

            models.append((name, image_runner(path)))
        else:
            models.append((name, path))
    if args.layout:
        if not args.root:
            raise ConfigError("--layout needs --root")
        items = paired_items(args.layout, args.root, args.split, args.limit)
    elif args.clean:
        types = tuple(t.strip() for t in args.types.split(",")) if args.types else TYPES
        items = synthetic_items(args.clean, types=types, crop=args.crop, seed=args.seed, limit=args.limit)
    else:
        raise ConfigError("eval-restore needs --clean FOLDER (synthetic composites) or --layout + --root (a paired set)")
    res = evaluate(models, items, progress=not args.no_progress)
    res["test_set"] = {"clean": args.clean, "layout": args.layout, "root": args.root, "crop": args.crop, "seed": args.seed, "limit": args.limit}
    text = markdown(res, args.title)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(args.out) / "eval_restore.json", res)
        atomic_write_text(Path(args.out) / "eval_restore.md", text + "\n")
    print(text)
    return 0
