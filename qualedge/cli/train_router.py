"""``qualedge train-router``: measure which signal predicts the heavy model's per-tile benefit and train the gain
head (see train/router.py)."""

from __future__ import annotations

import argparse

from qualedge.cli._config_args import add_config_args, resolve


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def main(args: argparse.Namespace) -> int:
    from qualedge.train.router import RouterConfig, train_router

    cfg = resolve(RouterConfig, args)
    if cfg is None:
        return 0
    m = train_router(cfg)
    best = m["best_signal"]
    print(f"best routing signal on held-out tiles: {best} (SRCC {m['heldout_srcc'][best]['log10_mse_heavy_vs_compact']:.3f} "
          f"with the heavy-vs-compact difference). Weights and card in {cfg.out}")  # fmt: skip
    return 0
