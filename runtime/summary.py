"""The per-image summary every restore path writes (Python SR, native SR, restoration, chains): built here only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from qualedge.runtime.restorer import Routing


def build_summary(
    *, size: tuple[int, int], scale: int, grid: tuple[int, int], tile: tuple[int, int], overlap: int, models: list[str],
    decisions: np.ndarray | None, quality: np.ndarray | None, routing: Routing | None, backend: str, precision: str,
    blend: str, fallbacks: int, times: dict[str, float], restoration: dict[str, Any] | None = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """The summary of one restore.

    ``routing`` None (one model, no routing: restoration bundles) leaves out the decisions and the routing section;
    ``restoration`` adds the restoration settings (mode, steps, seed, prompt mode, objective).
    """
    w, h = size
    s: dict[str, Any] = {
        "input": [w, h],
        "output": [w * scale, h * scale],
        "scale": scale,
        "tiles": {"rows": grid[0], "cols": grid[1], "tile": list(tile), "overlap": overlap},
        "models": models,
        "quality": {"mean": float(np.nanmean(quality)) if quality is not None and np.isfinite(quality).any() else None},
    }
    if routing is not None:
        routed = len(models) > 1
        dec = np.zeros(grid, np.int8) if decisions is None else decisions
        heavy_tiles = int((dec == 1).sum()) if routed else (grid[0] * grid[1] if routing.policy == "heavy" else 0)
        s["decisions"] = {m: int((dec == k).sum()) for k, m in enumerate(models)}
        s["quality"]["threshold"] = routing.threshold
        s["routing"] = {
            "policy": routing.policy, "mode": routing.mode if routed else None, "heavy_fraction": routing.heavy_fraction,
            "threshold": routing.threshold, "signal": routing.signal if routing.policy == "adaptive" else None,
            "seed": routing.seed if routing.policy == "random" else None, "heavy_tiles": heavy_tiles,
        }  # fmt: skip
    if restoration is not None:
        s["restoration"] = restoration
    s.update(backend=backend, precision=precision, blend=blend, **extra)
    s["fp32_fallback_tiles"] = fallbacks
    s["times_s"] = {k: round(v, 4) for k, v in times.items()}
    return s


def chain_summary(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of a chain (restoration then SR, ...): the last stage's, with the first stage's under
    ``"restoration"``, the chain's input size, the first stage's time under ``times_s["restoration"]`` and the total
    of all stages under ``times_s["total"]``."""
    first, last = stages[0], dict(stages[-1])
    last["restoration"] = first
    last["input"] = first["input"]
    last["times_s"] = {"restoration": first["times_s"]["total"], **last["times_s"]}
    last["times_s"]["total"] = round(sum(st["times_s"]["total"] for st in stages), 4)
    return last


__all__ = ["build_summary", "chain_summary"]
