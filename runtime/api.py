"""The runtime's public entry points: :func:`restore` (what ``qualedge restore`` runs) and :func:`open_restorer`.

A restore is SR on an SR bundle, restoration on a restoration bundle, or restoration then SR (a chain). The SR stage
runs on the native engine where the bundle and options allow it (``engine="auto"``), else on the Python runtime.
Bundle paths are explicit here: resolving "the default bundle" (building it from the shipped weights) is the export
stage's job (``qualedge.export.defaults``), which the CLI calls first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qualedge.runtime.restorer import RestoreOptions


def open_restorer(
    bundle: str | Path | None = None, *, restore_bundle: str | Path | None = None, options: RestoreOptions | None = None,
    engine: str = "auto", restore_mode: str = "loop", seed: int | None = None, log=None, restore_options: RestoreOptions | None = None,
):  # fmt: skip
    """An object with ``restore(image) -> RestoreResult``: the SR stage on ``bundle``, the restoration stage on
    ``restore_bundle``, or both chained (restoration first), on the native engine where it can run them all
    (``engine="auto"``; ``"native"`` refuses what it cannot run, ``"python"`` never uses it). ``seed`` seeds the
    restoration noise (default: the bundle's); ``options.seed`` is the SR random policy's. ``restore_mode``: "loop" (the default, the
    faster by measurement, benchmarks/results/latency_cpu.md) or "unrolled". ``restore_options``: the
    restoration stage's (default: ``options``' batch, backend, device and threads)."""
    from qualedge.runtime.native_restorer import open_stages

    opts = options or RestoreOptions()
    ropts = restore_options or RestoreOptions(batch=opts.batch, backend=opts.backend, device=opts.device, threads=opts.threads)
    return open_stages(bundle, restore_bundle, opts, ropts, engine, mode=restore_mode, seed=seed, log=log)


def restore(
    input: str | Path, output: str | Path, *, bundle: str | Path | None = None, restore_bundle: str | Path | None = None,
    options: RestoreOptions | None = None, engine: str = "auto", restore_mode: str = "loop", seed: int | None = None,
    log=None, **batch: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Restore one image file or every image of a folder into ``output``; returns one summary per file (a failed
    file's has ``error``; see :func:`qualedge.runtime.batch.restore_many` for ``batch``: overwrite, json_lines,
    decision_map, ext, progress, quality, fail_fast, max_pixels, metadata, dpi, colour)."""
    from qualedge.runtime.batch import restore_many

    restorer = open_restorer(bundle, restore_bundle=restore_bundle, options=options, engine=engine, restore_mode=restore_mode, seed=seed, log=log)
    return restore_many(restorer, Path(input), Path(output), **batch)


__all__ = ["open_restorer", "restore"]
