"""The SR restore path on a bundle: :class:`Restorer` = the tile engine (runtime/tile_engine.py: pad, tile plan,
fused blend, crop, alpha) with :class:`SRStrategy`.

Per image: every tile is scored first (the bundle's quality head, one dense pass per tile row, and the routing
signal) and decided by the policy (compact model for tiles at or above the quality threshold or outside the heavy
fraction, heavy model for the others; the random control draws the same budget by seed) -> per tile row: batched
inference through one backend -> NaN/Inf check (rerun in fp32 when the form was fp16) -> blend. The routing
(:func:`resolve_routing`), the model choice (:func:`select_models`) and the summary are shared with the native engine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from qualedge.runtime.summary import build_summary

from qualedge.bundle import Manifest, ModelEntry, load_bundle
from qualedge.descriptor import ModelDescriptor
from qualedge.errors import ConfigError, InferenceError
from qualedge.io import Image

POLICIES = ("adaptive", "random", "compact", "heavy")
DEFAULT_BUDGET_MB = 1024  # activations budget of the automatic tile size: larger tiles buy little speed, much memory


@dataclass
class RestoreOptions:
    """Run-time settings; ``None`` takes the bundle's policy defaults.

    Attributes:
        tile: tile side in input pixels (None: automatic from available memory and the model's advice).
        overlap: overlap between tiles in input pixels (policy default 16).
        batch: tiles per inference call.
        backend: "ort", "torch" or "trt"; device: "cpu", "cuda" (ORT: also "tensorrt").
        precision: "fp32", "fp16" or "int8" (a form of the bundle; tiles whose output is not finite are rerun in fp32);
            "bf16": the native engine.
        policy: "adaptive" (routed between compact and heavy by the bundle's routing score), "random" (the control: the
            same budget spent on tiles drawn by ``seed``), "compact" or "heavy".
        heavy_fraction: share of tiles in [0, 1] sent to the heavy model (the highest routing scores, or random ones).
        threshold: quality in [0, 1] at or above which a tile goes to the compact model (the other way to route;
            adaptive only). Neither given: the bundle's routing.
        seed: seed of the random policy (default: the bundle's, else 0).
        router: the adaptive policy's routing score: a router model of the bundle, or "quality", "gradient",
            "variance", "edges" (qualedge/routing.py); default: the bundle's.
        quality_weighting: weight tiles by their quality in the overlap blend.
        blend: "auto" (Triton on CUDA, C on CPU, NumPy when no compiler), "c", "numpy", "triton".
        threads: intra-op threads for the backend.
        memory_budget_mb: budget for the automatic tile size (default: a quarter of available memory, at most 1 GiB).
    """

    tile: int | None = None
    overlap: int | None = None
    batch: int = 4
    backend: str = "ort"
    device: str = "cpu"
    precision: str | None = None
    policy: str = "adaptive"
    heavy_fraction: float | None = None
    threshold: float | None = None
    seed: int | None = None
    router: str | None = None
    quality_weighting: bool = False
    blend: str = "auto"
    threads: int | None = None
    memory_budget_mb: int | None = None


@dataclass
class RestoreResult:
    pixels: np.ndarray  # (H, W, 3|4) uint8/uint16 RGB(A)
    grey: bool
    summary: dict[str, Any] = field(default_factory=dict)
    decisions: np.ndarray | None = None  # (rows, cols) model index per tile
    quality: np.ndarray | None = None  # (rows, cols) tile quality in [0, 1]


def auto_tile(desc: ModelDescriptor, *, batch: int, budget_mb: int | None) -> int:
    """Largest tile (multiple of 8, 64..1024) whose activations fit the budget.

    Estimate: float32 activations of the widest feature map, held twice, per output pixel: 2 * 4 B * 64 channels at
    the output resolution (scale^2 output pixels per input pixel). Fixed-tile models keep their tile.
    """
    if desc.size.fixed_tile:
        return desc.size.fixed_tile
    if budget_mb is None:
        import psutil

        budget_mb = min(DEFAULT_BUDGET_MB, int(psutil.virtual_memory().available / 2**20 / 4))
    per_px = 2 * 4 * 64 * max(1, desc.scale) ** 2
    side = int(math.sqrt(budget_mb * 2**20 / (per_px * max(1, batch))))
    side = max(64, min(1024, side // 8 * 8))
    return min(side, max(64, desc.tile_advice[0] * 2))


@dataclass(frozen=True)
class Routing:
    """How an SR bundle's tiles are routed, resolved from the run's options and the bundle's policy (both runtimes)."""

    policy: str  # adaptive | random | compact | heavy
    mode: str  # fraction | threshold
    heavy_fraction: float | None
    threshold: float | None
    signal: str  # gain | quality | gradient | variance | edges
    router_model: str | None  # the bundle's router model when signal == "gain"
    seed: int


def resolve_routing(manifest: Manifest, folder: Path, opts: RestoreOptions) -> Routing:
    """Policy, mode (fraction or threshold), routing signal and seed from the options and the bundle."""
    from qualedge.routing import SIGNALS, check_fraction

    pol = manifest.sr_policy()
    if opts.policy not in POLICIES:
        raise ConfigError(f"policy must be one of {POLICIES}, got {opts.policy!r}")
    seed = int(opts.seed if opts.seed is not None else pol.seed)
    if opts.heavy_fraction is not None and opts.threshold is not None:
        raise ConfigError("give either heavy_fraction (a budget) or threshold (a quality level), not both")
    if opts.policy == "random" and opts.threshold is not None:
        raise ConfigError("the random policy spends a budget: give heavy_fraction, not threshold")
    if opts.heavy_fraction is not None:
        mode, fraction, threshold = "fraction", check_fraction(opts.heavy_fraction), None
    elif opts.threshold is not None:
        mode, fraction, threshold = "threshold", None, float(opts.threshold)
    elif pol.heavy_fraction is not None or opts.policy == "random":
        if pol.heavy_fraction is None:
            raise ConfigError(f"policy 'random' needs heavy_fraction; bundle {folder} sets no default fraction")
        mode, fraction, threshold = "fraction", check_fraction(pol.heavy_fraction, "the bundle's heavy_fraction"), None
    else:
        mode, fraction, threshold = "threshold", None, float(pol.threshold)
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be a quality in [0, 1], got {threshold}")
    router = str(opts.router or pol.router)
    if router in SIGNALS:
        signal, router_model = router, None
    else:
        entry = manifest.model(router)
        if entry.role != "router":
            raise ConfigError(f"bundle {folder}: policy router {router!r} is a {entry.role} model, not a router")
        signal, router_model = "gain", router
    if signal == "gain" and router_model is None:
        raise ConfigError(f"bundle {folder}: routing signal 'gain' needs a router model in the bundle")
    return Routing(opts.policy, mode, fraction, threshold, signal, router_model, seed)


def select_models(manifest: Manifest, folder: Path, policy: str) -> tuple[list[ModelEntry], list[ModelEntry]]:
    """(the models the tile plan is made for: compact[, heavy]; the models that run under ``policy``)."""
    pol = manifest.sr_policy()
    srs = manifest.by_role("sr")
    if not srs:
        raise ConfigError(f"bundle {folder} has no super-resolution model")
    compact = manifest.model(pol.compact) if pol.compact else srs[0]
    heavy = manifest.model(pol.heavy) if pol.heavy else None
    if policy in ("heavy", "random") and heavy is None:
        raise ConfigError(f"policy {policy!r} needs a heavy model; bundle {folder} has only {compact.name}")
    planned = [compact] + ([heavy] if heavy is not None else [])
    if policy == "compact" or heavy is None:
        return planned, [compact]
    return planned, [heavy] if policy == "heavy" else [compact, heavy]


class SRStrategy:
    """Super-resolution on the tiles: one model, or a compact and a heavy model routed per tile (quality map, routing
    signal, decisions), batched through the backends, with NaN/Inf detection and an fp32 rerun of bad tiles."""

    def __init__(self, models: list[ModelEntry], backends: list, *, routing: Routing, batch: int, qhead=None, router=None,
                 open_fp32=None) -> None:  # fmt: skip
        self.models, self.backends, self.routing, self.batch = models, backends, routing, batch
        self.qhead, self.router = qhead, router
        self._open_fp32 = open_fp32
        self._fp32: dict[int, Any] = {}

    def _fp32_backend(self, i: int):
        if i not in self._fp32:
            self._fp32[i] = self._open_fp32(self.models[i])
        return self._fp32[i]

    def route(
        self, row_crops, nr: int, nc: int, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float]
    ) -> None:
        from qualedge.routing import STATISTICS, route_fraction, route_random, route_threshold

        r = self.routing
        routed = len(self.models) > 1
        scores = (
            np.full((nr, nc), np.nan, np.float32)
            if routed and r.policy == "adaptive" and r.mode == "fraction"
            else None
        )
        if self.qhead is not None or scores is not None:
            for i in range(nr):
                crops = row_crops(i)
                rgb = crops if crops.shape[1] == 3 else np.repeat(crops, 3, axis=1)
                t0 = time.perf_counter()
                if self.qhead is not None:
                    quality[i] = self.qhead.run(rgb).reshape(nc, -1).mean(1)  # nc, 1, ceil(th/16), ceil(tw/16) -> nc
                t1 = time.perf_counter()
                times["quality"] += t1 - t0
                if scores is not None:
                    if r.signal == "quality":
                        scores[i] = 1.0 - quality[i]
                    elif r.signal == "gain":
                        scores[i] = self.router.run(rgb).reshape(nc, -1).mean(1)
                    else:
                        scores[i] = STATISTICS[r.signal](crops)
                times["router"] += time.perf_counter() - t1
        if not routed:
            return
        t0 = time.perf_counter()
        if r.policy == "random":
            heavy = route_random((nr, nc), r.heavy_fraction, r.seed)
        elif scores is not None:
            heavy = route_fraction(scores, r.heavy_fraction)
        else:
            heavy = route_threshold(quality, r.threshold)
        decisions[...] = heavy.astype(np.int8)
        times["router"] += time.perf_counter() - t0

    def infer_row(self, i: int, crops: np.ndarray, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float], outs: np.ndarray) -> int:  # fmt: skip
        fallbacks = 0
        t0 = time.perf_counter()
        for mi, backend in enumerate(self.backends):
            idx = np.flatnonzero(decisions[i] == mi)
            for b0 in range(0, len(idx), self.batch):
                sel = idx[b0 : b0 + self.batch]
                y = backend.run(crops[sel])
                bad = ~np.isfinite(y.reshape(len(sel), -1)).all(1)
                if bad.any():
                    if backend.precision == "fp32":
                        raise InferenceError(
                            f"model {self.models[mi].name} produced NaN/Inf for tile row {i} in fp32; no fall-back is left. "
                            "The input or the weights are corrupt."
                        )
                    y[bad] = self._fp32_backend(mi).run(crops[sel[bad]])
                    fallbacks += int(bad.sum())
                    if not np.isfinite(y).all():
                        raise InferenceError(f"model {self.models[mi].name}: NaN/Inf even in fp32 for tile row {i}")
                outs[sel] = y
        times["inference"] += time.perf_counter() - t0
        return fallbacks


class Restorer:
    """Load an SR bundle once, then ``restore(image)`` many times: the tile engine with the SR strategy. Thread-safe
    for concurrent ``restore`` calls only when the backends are (ONNX Runtime sessions are)."""

    def __init__(self, bundle: str | Path, options: RestoreOptions | None = None) -> None:
        from qualedge.runtime.tile_engine import Geometry, TileEngine

        self.folder = Path(bundle)
        self.manifest: Manifest = load_bundle(self.folder)
        self.options = opts = options or RestoreOptions()
        pol = self.manifest.sr_policy()
        if opts.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {POLICIES}, got {opts.policy!r}")
        self.precision = opts.precision or pol.precision
        self.overlap = opts.overlap if opts.overlap is not None else pol.overlap
        # one tile plan for every policy (from both models' size requirements), so that routing at F = 0 and F = 1
        # reproduces the compact-only and the heavy-only output exactly
        planned, self.models = select_models(self.manifest, self.folder, opts.policy)
        self.routing = r = resolve_routing(self.manifest, self.folder, opts)
        descs = [m.desc for m in planned]
        d0 = descs[0]
        for m, d in zip(planned[1:], descs[1:]):
            if d.scale != d0.scale or d.in_channels != d0.in_channels:
                raise ConfigError(
                    f"models {planned[0].name} and {m.name} differ in scale or channels; they cannot share a tile plan"
                )
        self.scale = d0.scale
        fixed = next((d.size.fixed_tile for d in descs if d.size.fixed_tile), None)
        self.tile = (
            fixed or opts.tile or pol.tile or auto_tile(descs[-1], batch=opts.batch, budget_mb=opts.memory_budget_mb)
        )
        self.backends = [self._open(m, self.precision) for m in self.models]
        routed = len(self.models) > 1
        needs_q = (
            routed and (r.mode == "threshold" or (r.policy == "adaptive" and r.signal == "quality"))
        ) or opts.quality_weighting
        self.qhead = None
        if needs_q:
            if not pol.quality_model:
                raise ConfigError(
                    "quality routing and quality weighting need a quality model in the bundle (export with the quality head)"
                )
            self.qhead = self._open(self.manifest.model(pol.quality_model), "fp32")
        router = None
        if routed and r.policy == "adaptive" and r.mode == "fraction" and r.signal == "gain":
            router = self._open(self.manifest.model(r.router_model), "fp32")
        self.strategy = SRStrategy(self.models, self.backends, routing=r, batch=opts.batch, qhead=self.qhead, router=router,
                                   open_fp32=lambda m: self._open(m, "fp32"))  # fmt: skip
        geometry = Geometry(scale=self.scale, in_channels=d0.in_channels, multiple=max(d.size.multiple_of for d in descs),
                            minimum=max(d.size.minimum for d in descs), fixed=fixed, tile=self.tile, overlap=self.overlap)  # fmt: skip
        self.engine = TileEngine(
            geometry, self.strategy, blend=opts.blend, device=opts.device, quality_weighting=opts.quality_weighting
        )

    def _open(self, entry: ModelEntry, precision: str):
        from qualedge.runtime.backends import open_backend

        o = self.options
        return open_backend(
            self.folder, entry, backend=o.backend, device=o.device, precision=precision, threads=o.threads
        )

    def restore(self, image: Image) -> RestoreResult:
        run = self.engine.run(image)
        e = self.engine
        summary = build_summary(
            size=(image.width, image.height), scale=self.scale, grid=run.grid, tile=run.tile, overlap=run.overlap,
            models=[m.name for m in self.models], decisions=run.decisions, quality=run.quality if self.qhead is not None else None,
            routing=self.routing, backend=self.options.backend, precision=self.precision, blend=e.blend_name,
            fallbacks=run.fallbacks, times=run.times, **({"blend_note": e.blend_note} if e.blend_note else {}),
        )  # fmt: skip
        return RestoreResult(run.pixels, image.grey, summary, run.decisions, run.quality)


__all__ = [
    "RestoreOptions",
    "RestoreResult",
    "Restorer",
    "Routing",
    "SRStrategy",
    "auto_tile",
    "build_summary",
    "resolve_routing",
    "select_models",
]
