"""``qualedge finetune-sr``: LoRA fine-tuning with an IQA reward (see train/finetune.py). torchrun-ready."""

from __future__ import annotations

import argparse

from qualedge.cli._config_args import add_config_args, resolve


def add_args(p: argparse.ArgumentParser) -> None:
    add_config_args(p)


def main(args: argparse.Namespace) -> int:
    from qualedge.train.finetune import FinetuneSRConfig, finetune_sr

    cfg = resolve(FinetuneSRConfig, args)
    if cfg is None:
        return 0
    res = finetune_sr(cfg)
    print(f"{res['trainable']} LoRA parameters trained; checkpoints (base + adapter/) in {res['out']}")
    return 0
