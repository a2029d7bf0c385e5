"""``qualedge iqa-eval``: how well NR-IQA metrics agree with human judgement (tables as in paper 1)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sbs", metavar="MANIFEST", help="pairwise preferences: CSV/JSON with a, b, p_b[, split]")
    p.add_argument("--hggt", metavar="ROOT", help="HGGT layout: ROOT/images/<part>/{original,01..04}, ROOT/labels/<part>/{A,B,C}")
    p.add_argument("--metrics", required=True, help="comma-separated metric ids, e.g. niqe,piqe,brisque,qhead,pyiqa:musiq")
    p.add_argument("-o", "--out", help="folder for iqa_eval.json and iqa_eval.md")
    p.add_argument("--crop", type=int, help="score a centre crop of this size (part of the cache key)")
    p.add_argument("--screen-fraction", type=float, help="two-stage screening: all metrics on this fraction of the pairs first")
    p.add_argument("--screen-k", type=int, default=3, help="metrics kept after screening (3)")
    p.add_argument("--complement", metavar="METRIC", help="report every metric's accuracy on the pairs this one gets wrong")
    p.add_argument("--cache", metavar="FILE", help="score cache (default: <qualedge cache>/iqa_scores.sqlite)")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace) -> int:
    from qualedge.iqa.agreement.evaluate import iqa_eval

    _, text = iqa_eval(
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()],
        sbs=args.sbs, hggt=args.hggt, out=args.out, crop=args.crop, screen_fraction=args.screen_fraction,
        screen_k=args.screen_k, complement_ref=args.complement, cache_path=args.cache, progress=not args.no_progress,
    )  # fmt: skip
    print(text)
    return 0
