"""``qualedge train-restore``: train AdaQual-Diff (see train/restore_train.py). torchrun-ready."""

from __future__ import annotations

import argparse

from qualedge.cli._config_args import add_config_args, resolve


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def main(args: argparse.Namespace) -> int:
    from qualedge.train.restore_train import TrainRestoreConfig, train_restore

    cfg = resolve(TrainRestoreConfig, args)
    if cfg is None:
        return 0
    res = train_restore(cfg)
    print(f"checkpoints in {res['out']} (latest.json); last losses {res['last']}")
    return 0
