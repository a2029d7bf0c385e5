"""qualedge.runtime: tiled, quality-aware inference on bundles; fused blend kernels; the C ABI.

Imports only the core (an edge install ships without training or export code). ``qualedge.runtime.restore`` and
``open_restorer`` (runtime/api.py) are the public entry points; they load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_restorer", "restore"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from qualedge.runtime import api

        return getattr(api, name)
    raise AttributeError(f"module 'qualedge.runtime' has no attribute {name!r}")
