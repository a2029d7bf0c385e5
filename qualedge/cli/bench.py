"""``qualedge bench latency|report``: benchmarks (latency tables; reports with plots in issue #7)."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("latency", "report"), help="latency: qualedge vs the Real-ESRGAN-style baseline; report: HTML/markdown report")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark (see 'qualedge bench latency -h')")


def main(args: argparse.Namespace) -> int:
    if args.what == "latency":
        from qualedge.benchmarks.latency import main as latency_main

        return latency_main(args.rest)
    from qualedge.errors import NotImplementedYetError

    raise NotImplementedYetError("'qualedge bench report' is designed but not built yet; it is tracked in issue #7.")
