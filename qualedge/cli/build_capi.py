"""``qualedge build-capi -o DIR``: the native C ABI library (libqualedge.so), OpenVINO's libraries and qualedge.h in DIR."""

from __future__ import annotations

import argparse


def add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, help="folder for libqualedge.so, the OpenVINO libraries it loads, and qualedge.h")


def main(args: argparse.Namespace) -> int:
    from qualedge.runtime.capi_build import build_capi

    lib, header = build_capi(args.output)
    print(f"built {lib}\nheader {header}")
    return 0
