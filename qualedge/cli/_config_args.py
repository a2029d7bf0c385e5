"""Shared ``--config FILE``, ``--set key=value`` and ``--print-config`` options for verbs driven by a config dataclass."""

from __future__ import annotations

import argparse
import json
from typing import TypeVar

T = TypeVar("T")


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML file with the configuration (defaults for missing keys)")
    p.add_argument(
        "--set", metavar="KEY=VALUE", action="append", default=[], dest="overrides",
        help="override one key, TOML value syntax (repeatable), e.g. --set train.epochs=2",
    )  # fmt: skip
    p.add_argument("--print-config", action="store_true", help="print the resolved configuration and exit")


def resolve(cls: type[T], args: argparse.Namespace) -> T | None:
    """The config, or None after printing it for --print-config."""
    from qualedge.config import load_config, to_dict

    cfg = load_config(cls, args.config, args.overrides)
    if args.print_config:
        print(json.dumps(to_dict(cfg), indent=2))
        return None
    return cfg
