"""``qualedge models``: registered architectures and the pretrained weights available offline."""

from __future__ import annotations

import argparse
import json


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def main(args: argparse.Namespace) -> int:
    from qualedge.models_info import models_report, render_models_report

    report = models_report()
    print(json.dumps(report, indent=2) if args.json else render_models_report(report))
    return 0
