"""The embedded default bundle: built offline on first use from the converted real weights, then cached.

Contents: ``sr`` = the compact x4 model (realesr-animevideov3, SRVGGNetCompact), ``sr_heavy`` = realesrgan-x4plus
(RRDBNet), and the quality head. The runtime sends tiles whose quality is at or above the threshold to the compact
model and the rest to the heavy one. Built under ``<cache>/bundles/default-<version>-<key>/`` with a lock so that
concurrent first runs build it once.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path

from qualedge import paths
from qualedge._version import __version__

COMPACT = "realesr-animevideov3"
HEAVY = "realesrgan-x4plus"


def default_bundle_path() -> Path:
    from qualedge.iqa.head import DEFAULT_WEIGHTS
    from qualedge.weights.cache import sha256_file

    key = hashlib.sha256(f"{COMPACT}|{HEAVY}|{sha256_file(DEFAULT_WEIGHTS)}".encode()).hexdigest()[:10]
    return paths.cache_dir() / "bundles" / f"default-{__version__}-{key}"


def ensure_default_bundle(*, log=print) -> Path:
    """The default bundle's folder, exporting it first if needed (about a minute, once)."""
    from qualedge.export.api import ModelSource, export_bundle

    target = default_bundle_path()
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".default.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "manifest.json").is_file():
            return target
        log(f"building the default bundle once (compact {COMPACT}, heavy {HEAVY}, quality head) in {target} ...")
        export_bundle(
            target,
            [ModelSource(name="sr", pretrained=COMPACT), ModelSource(name="sr_heavy", pretrained=HEAVY)],
            precisions=("fp32", "fp16"),
            quality_head=True,
            overwrite=True,
        )
    return target
