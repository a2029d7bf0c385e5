"""``qualedge train-qhead``: distil the quality head from a teacher metric (see train/qhead.py)."""

from __future__ import annotations

import argparse

from qualedge.cli._config_args import add_config_args, resolve


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def main(args: argparse.Namespace) -> int:
    from qualedge.train.qhead import QHeadConfig, train_qhead

    cfg = resolve(QHeadConfig, args)
    if cfg is None:
        return 0
    m = train_qhead(cfg)
    print(
        f"held-out SRCC with the teacher {m['heldout_srcc_with_teacher']:.3f}, with the known order "
        f"{m['heldout_srcc_with_known_order']:.3f}; {m['speed']['speedup']:.1f}x faster than the teacher. "
        f"Weights and card in {cfg.out}"
    )
    return 0
