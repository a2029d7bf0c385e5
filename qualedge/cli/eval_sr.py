"""``qualedge eval-sr``: the paper's SR evaluation table (see train/eval_sr.py)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", action="append", required=True, help="pretrained id, checkpoint folder, weights file or bicubic (repeatable)")
    p.add_argument("--lr", help="folder of LR test images (paired with --hr by sorted order)")
    p.add_argument("--hr", help="folder of HR test images")
    p.add_argument("--multigt", help="HGGT-layout test root (FR metrics averaged over Positive GTs)")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--metrics", help="comma-separated metric ids (default: the paper's columns plus niqe, piqe, qhead)")
    p.add_argument("-o", "--out", help="folder for eval_sr.json and eval_sr.md")
    p.add_argument("--title", default="", help="table title")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qualedge.atomic import atomic_write_json, atomic_write_text
    from qualedge.errors import ConfigError
    from qualedge.train.eval_sr import evaluate, load_multigt, load_pairs, markdown

    if args.multigt:
        items = load_multigt(args.multigt, args.scale)
    elif args.lr and args.hr:
        items = load_pairs(args.lr, args.hr, args.scale)
    else:
        raise ConfigError("eval-sr needs --lr and --hr, or --multigt")
    metrics = tuple(m.strip() for m in args.metrics.split(",")) if args.metrics else None
    res = evaluate(args.model, items, scale=args.scale, metrics=metrics, progress=not args.no_progress)
    text = markdown(res, args.title)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(args.out) / "eval_sr.json", res)
        atomic_write_text(Path(args.out) / "eval_sr.md", text + "\n")
    print(text)
    return 0
