"""``qualedge train-sr``: not built yet (tracked in issue #5)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def main(args: argparse.Namespace) -> int:
    from qualedge.errors import NotImplementedYetError

    raise NotImplementedYetError("'qualedge train-sr' is designed (see README) but not built yet; it is tracked in issue #5.")
