"""The C ABI library for C programs: ``qualedge build-capi -o DIR`` puts ``libqualedge.so`` (the native runtime,
C++ over OpenVINO, no Python), OpenVINO's libraries and ``qualedge.h`` into DIR (see ``native_build``)."""

from __future__ import annotations

import re
from pathlib import Path

from qualedge.errors import BackendUnavailableError

HERE = Path(__file__).resolve().parent


def header_abi() -> int:
    """QE_ABI_VERSION of include/qualedge.h, checked against the one ABI version (qualedge.bundle.ABI_VERSION)."""
    from qualedge.bundle import ABI_VERSION

    m = re.search(r"#define\s+QE_ABI_VERSION\s+(\d+)u?", (HERE / "include" / "qualedge.h").read_text())
    if m is None or int(m.group(1)) != ABI_VERSION:
        raise BackendUnavailableError(
            f"include/qualedge.h defines QE_ABI_VERSION {m.group(1) if m else '(none)'}, the bundle contract is ABI {ABI_VERSION}: "
            "change both together"
        )
    return ABI_VERSION


def build_capi(out_dir: str | Path) -> tuple[Path, Path]:
    """Build the native library (once, cached) and copy it with its engine libraries and header into ``out_dir``;
    returns (library path, header path)."""
    from qualedge.runtime.native_build import copy_capi

    return copy_capi(out_dir)  # build_native checks header_abi() first
