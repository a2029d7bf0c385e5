"""``qualedge bench latency|routing|report|device-check``: benchmarks and reports."""

from __future__ import annotations

import argparse

WHAT = {
    "latency": ("qualedge.benchmarks.latency", "qualedge restore against the Real-ESRGAN-style eager baseline and the ncnn engine (CPU)"),
    "routing": ("qualedge.benchmarks.routing", "adaptive against random tile routing at the same heavy-model budget, on held-out photos"),
    "report": ("qualedge.benchmarks.report", "HTML and markdown report with plots, from a config file (--quick: what CI runs)"),
    "device-check": ("qualedge.benchmarks.device_check", "GPU paths checked and timed on one card (CPU dry run without CUDA)"),
}


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=tuple(WHAT), help="; ".join(f"{k}: {v[1]}" for k, v in WHAT.items()))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of the benchmark (e.g. 'qualedge bench report -h')")


def main(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(WHAT[args.what][0]).main(args.rest)
