"""The embedded default bundle: built offline on first use from the converted real weights, then cached.

SR bundle contents: ``sr`` = the compact x4 model (qualedge-compact-x4: SRVGGNetCompact distilled from x4plus and
fine-tuned with the quality-head reward, shipped in qualedge/assets), ``sr_heavy`` = realesrgan-x4plus
(RRDBNet), the quality head and the router (the gain head, docs/models/gain-head.md). The runtime sends the
``ROUTING["heavy_fraction"]`` share of tiles with the highest predicted benefit to the heavy model and the rest to
the compact one. ``ROUTING`` is the recommendation of ``qualedge bench routing``
(benchmarks/results/routing.json, "recommended"; tests/export/test_defaults.py checks that they agree). Built under ``<cache>/bundles/default-<version>-<key>/`` with a lock so that
concurrent first runs build it once.

The default restoration bundle (``qualedge restore --restore-bundle default``) is exported the same way from the
embedded AdaQual-Diff weights ``qualedge/assets/weights/adaqual_default.safetensors`` (see
docs/models/adaqual-default.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

from qualedge import paths
from qualedge._version import __version__

COMPACT = "qualedge-compact-x4"
HEAVY = "realesrgan-x4plus"
RESTORE_WEIGHTS = paths.asset("weights", "adaqual_default.safetensors")
RESTORE_TILE = 256
# the default bundle's routing: tile plan (the routing granularity, in LR pixels) and budget, from the routing bench
ROUTING = {"tile": 64, "overlap": 8, "heavy_fraction": 0.3}


QUALITY_HEAD = paths.asset("weights", "quality_head.safetensors")  # qualedge.iqa.head.DEFAULT_WEIGHTS, without torch


def gain_head_weights() -> Path:
    return paths.asset("weights", "gain_head.safetensors")


def _needs_export_extra(what: str) -> None:
    """Building a bundle exports PyTorch models to ONNX: say which extra that needs when it is not installed."""
    import importlib.util

    missing = [m for m in ("torch", "onnx", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        from qualedge.errors import ConfigError

        raise ConfigError(
            f"building {what} needs {', '.join(missing)} (the export extra): pip install 'qualedge[export]', or pass the folder "
            "of a bundle exported elsewhere (qualedge export) with --bundle / --restore-bundle"
        )


def default_bundle_path() -> Path:
    from qualedge.weights.cache import sha256_file

    compact = paths.asset("weights", "qualedge_compact_x4.safetensors")  # the shipped compact weights: a new file means a new bundle
    csum = sha256_file(compact) if compact.is_file() else "missing"
    parts = [COMPACT, csum, HEAVY, sha256_file(QUALITY_HEAD), sha256_file(gain_head_weights()), json.dumps(ROUTING, sort_keys=True)]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]
    return paths.cache_dir() / "bundles" / f"default-{__version__}-{key}"


def _ensure(target: Path, build, what: str, log) -> Path:
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "manifest.json").is_file():
            _needs_export_extra(what)
            log(f"building {what} once in {target} ...")
            build(target)
    return target


def ensure_default_bundle(*, log=print) -> Path:
    """The default SR bundle's folder, exporting it first if needed (about two minutes, once)."""

    def build(target: Path) -> None:
        from qualedge.export.api import ModelSource, export_bundle

        export_bundle(
            target,
            [ModelSource(name="sr", pretrained=COMPACT), ModelSource(name="sr_heavy", pretrained=HEAVY)],
            precisions=("fp32", "fp16"),
            quality_head=True,
            router=gain_head_weights(),
            heavy_fraction=ROUTING["heavy_fraction"],
            routing_tile=ROUTING["tile"],
            overlap=ROUTING["overlap"],
            overwrite=True,
        )

    return _ensure(default_bundle_path(), build, f"the default bundle (compact {COMPACT}, heavy {HEAVY}, quality head, router)", log)


def ensure_default_restore_bundle(*, log=print) -> Path:
    """The default restoration bundle's folder, exported from the embedded AdaQual-Diff weights if needed."""
    from qualedge.errors import WeightsNotFoundError
    from qualedge.weights.cache import sha256_file

    if not RESTORE_WEIGHTS.is_file():
        raise WeightsNotFoundError(f"the embedded restoration weights {RESTORE_WEIGHTS} are missing; reinstall qualedge or pass --restore-bundle FOLDER")
    key = hashlib.sha256(f"{sha256_file(RESTORE_WEIGHTS)}|{sha256_file(QUALITY_HEAD)}|{RESTORE_TILE}".encode()).hexdigest()[:10]
    target = paths.cache_dir() / "bundles" / f"restore-default-{__version__}-{key}"

    def build(t: Path) -> None:
        from qualedge.export.restore_export import export_restore_bundle

        export_restore_bundle(t, weights=str(RESTORE_WEIGHTS), tile=RESTORE_TILE, overwrite=True)

    return _ensure(target, build, "the default restoration bundle (embedded AdaQual-Diff)", log)
