"""``qualedge train-sr``: SR training with IQA-guided multi-GT sampling (see train/sr_train.py). torchrun-ready."""

from __future__ import annotations

import argparse

from qualedge.cli._config_args import add_config_args, resolve


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def main(args: argparse.Namespace) -> int:
    from qualedge.train.sr_train import TrainSRConfig, train_sr

    cfg = resolve(TrainSRConfig, args)
    if cfg is None:
        return 0
    res = train_sr(cfg)
    print(f"checkpoints in {res['out']} (latest.json); last losses {res['last']}")
    return 0
