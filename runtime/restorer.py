"""The restore pipeline on a bundle.

decode -> validate -> pad (reflect, to the model's multiple) -> even tile plan with overlap -> per tile row:
quality map (the bundle's quality head, one dense pass over the row's input band) -> per-tile decision by the policy
(compact model for tiles at or above the quality threshold, heavy model below) -> batched inference through one
backend -> NaN/Inf check (rerun in fp32 when the form was fp16) -> fused overlap blend of the finished output rows
(seam-free raised-cosine window, optionally weighted by tile quality; normalise, clamp, quantise in one kernel)
-> crop -> alpha (upscaled separately, bicubic) -> encode.

Memory: only two tile rows of model outputs and the finished integer output are alive, so very large images stream
by rows of tiles. The tile size is chosen from available memory unless given.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


def build_summary(
    *, size: tuple[int, int], scale: int, grid: tuple[int, int], tile: tuple[int, int], overlap: int, models: list[str],
    decisions: np.ndarray, quality: np.ndarray | None, routing: Routing, backend: str, precision: str, blend: str,
    fallbacks: int, times: dict[str, float], **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """The per-image summary of an SR restore (the Python and the native runtime write the same one)."""
    w, h = size
    routed = len(models) > 1
    heavy_tiles = int((decisions == 1).sum()) if routed else (grid[0] * grid[1] if routing.policy == "heavy" else 0)
    return {
        "input": [w, h],
        "output": [w * scale, h * scale],
        "scale": scale,
        "tiles": {"rows": grid[0], "cols": grid[1], "tile": list(tile), "overlap": overlap},
        "models": models,
        "decisions": {m: int((decisions == k).sum()) for k, m in enumerate(models)},
        "quality": {"mean": float(np.nanmean(quality)) if quality is not None else None, "threshold": routing.threshold},
        "routing": {
            "policy": routing.policy, "mode": routing.mode if routed else None, "heavy_fraction": routing.heavy_fraction,
            "threshold": routing.threshold, "signal": routing.signal if routing.policy == "adaptive" else None,
            "seed": routing.seed if routing.policy == "random" else None, "heavy_tiles": heavy_tiles,
        },  # fmt: skip
        "backend": backend,
        "precision": precision,
        "blend": blend,
        **extra,
        "fp32_fallback_tiles": fallbacks,
        "times_s": {k: round(v, 4) for k, v in times.items()},
    }


class Restorer:
    """Load a bundle once, then ``restore(image)`` many times. Thread-safe for concurrent ``restore`` calls only
    when the backends are (ONNX Runtime sessions are)."""

    def __init__(self, bundle: str | Path, options: RestoreOptions | None = None) -> None:
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
        self.policy, self.seed, self.route_mode, self.heavy_fraction, self.threshold = r.policy, r.seed, r.mode, r.heavy_fraction, r.threshold
        self.signal, self.router_model = r.signal, r.router_model
        descs = [m.desc for m in planned]
        d0 = descs[0]
        for m, d in zip(planned[1:], descs[1:]):
            if d.scale != d0.scale or d.in_channels != d0.in_channels:
                raise ConfigError(f"models {planned[0].name} and {m.name} differ in scale or channels; they cannot share a tile plan")
        self.scale = d0.scale
        self.in_channels = d0.in_channels
        self.multiple = max(d.size.multiple_of for d in descs)
        self.minimum = max(d.size.minimum for d in descs)
        self.fixed = next((d.size.fixed_tile for d in descs if d.size.fixed_tile), None)
        self.tile = opts.tile or pol.tile or auto_tile(descs[-1], batch=opts.batch, budget_mb=opts.memory_budget_mb)
        if self.fixed:
            self.tile = self.fixed
        self.backends = [self._open(m, self.precision) for m in self.models]
        self._fp32: dict[int, Any] = {}
        qname = pol.quality_model
        routed = len(self.models) > 1
        needs_q = (routed and (self.route_mode == "threshold" or (self.policy == "adaptive" and self.signal == "quality"))) or opts.quality_weighting
        self.qhead = None
        if needs_q:
            if not qname:
                raise ConfigError("quality routing and quality weighting need a quality model in the bundle (export with the quality head)")
            self.qhead = self._open(self.manifest.model(qname), "fp32")
        self.router = None
        if routed and self.policy == "adaptive" and self.route_mode == "fraction" and self.signal == "gain":
            self.router = self._open(self.manifest.model(self.router_model), "fp32")
        self.blend_impl = self._choose_blend(opts.blend)

    def _open(self, entry: ModelEntry, precision: str):
        from qualedge.runtime.backends import open_backend

        o = self.options
        return open_backend(self.folder, entry, backend=o.backend, device=o.device, precision=precision, threads=o.threads)

    def _fp32_backend(self, i: int):
        if i not in self._fp32:
            self._fp32[i] = self._open(self.models[i], "fp32")
        return self._fp32[i]

    def _choose_blend(self, kind: str):
        if kind == "numpy":
            from qualedge.runtime.blend.reference import blend_reference

            return blend_reference, "numpy"
        if kind == "triton" or (kind == "auto" and self.options.device.startswith("cuda")):
            import torch
            from qualedge.runtime.blend.triton_kernel import blend_triton

            dev = "cuda" if torch.cuda.is_available() else "cpu"

            def run(tiles, rows, cols, q=None, *, bits=8, bgr=False):
                out = blend_triton(torch.from_numpy(tiles).to(dev), rows, cols, None if q is None else torch.from_numpy(q).to(dev), bits=bits, bgr=bgr)
                return out.cpu().numpy().astype(np.uint8 if bits == 8 else np.uint16)

            return run, "triton"
        try:
            from qualedge.runtime.blend.cpu import blend_cpu

            blend_cpu(np.zeros((1, 1, 1, 2, 2), np.float32), *_tiny_maps())  # compile/load now, not mid-image
            return blend_cpu, "c"
        except Exception as exc:
            if kind == "c":
                raise
            from qualedge.runtime.blend.reference import blend_reference

            self._blend_note = f"C blend unavailable ({exc}); using NumPy"
            return blend_reference, "numpy"

    # ------------------------------------------------------------------------------------------------------------
    def restore(self, image: Image) -> RestoreResult:
        from qualedge.runtime.blend.window import axis_map
        from qualedge.runtime.tiling import plan_tiles

        from qualedge.data.color import rgb_to_ycbcr_full, ycbcr_full_to_rgb
        from qualedge.data.resize import imresize

        t_start = time.perf_counter()
        times: dict[str, float] = {"quality": 0.0, "router": 0.0, "inference": 0.0, "blend": 0.0}
        s, h, w = self.scale, image.height, image.width
        luma_only = self.in_channels == 1
        src = image.rgb
        if luma_only:
            ycc = rgb_to_ycbcr_full(src)
            src = ycc[:, :, :1]
        ph = max(self.minimum, -(-h // self.multiple) * self.multiple) - h
        pw = max(self.minimum, -(-w // self.multiple) * self.multiple) - w
        if self.fixed:
            ph, pw = max(ph, self.fixed - h), max(pw, self.fixed - w)
        x = np.pad(src, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge") if (ph or pw) else src
        x = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)  # C, H, W
        H, W = x.shape[1:]
        plan = plan_tiles(H, W, self.tile, min(self.overlap, self.tile // 4), multiple_of=self.multiple, fixed=bool(self.fixed))
        th, tw = plan.rows.tile, plan.cols.tile
        cols = axis_map(plan.cols.starts, tw, W, scale=s)
        c_out = x.shape[0]
        bits = 16 if image.bit_depth == 16 else 8
        out = np.empty((H * s, W * s, c_out), np.uint8 if bits == 8 else np.uint16)
        nr, nc = plan.rows.count, plan.cols.count
        decisions = np.zeros((nr, nc), np.int8)
        quality = np.full((nr, nc), np.nan, np.float32)
        # the model outputs of two tile rows live in a ring: row i is written into slot i % 2 and blended from there
        ring = np.empty((2, nc, c_out, th * s, tw * s), np.float32)
        ring_q = np.ones((2, nc), np.float32)
        done = 0
        fallbacks = 0

        def row_crops(i: int) -> np.ndarray:
            band = x[:, plan.rows.starts[i] : plan.rows.starts[i] + th]
            return np.stack([band[:, :, x0 : x0 + tw] for x0 in plan.cols.starts])  # nc, C, th, tw

        self._route(row_crops, nr, nc, quality, decisions, times)  # every tile is scored before any is run
        for i in range(nr):
            crops = row_crops(i)
            fallbacks += self._infer_row(i, crops, quality, decisions, times, ring[i % 2])
            t0 = time.perf_counter()
            if self.options.quality_weighting:
                ring_q[i % 2] = quality[i]
            stop = plan.rows.starts[i + 1] * s if i + 1 < nr else H * s
            rows = axis_map(plan.rows.starts, th, H, scale=s, first=done, stop=stop)
            done = self._blend_band(rows, ring, ring_q if self.options.quality_weighting else None, i, cols, out, done, stop, bits)
            times["blend"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        result = out[: h * s, : w * s]
        if luma_only:
            y_up = result[:, :, 0].astype(np.float32) / (255.0 if bits == 8 else 65535.0)
            cbcr = np.clip(imresize(ycc[:, :, 1:], s), 0, 1)
            rgb = ycbcr_full_to_rgb(np.concatenate([y_up[:, :, None], cbcr], axis=2))
            from qualedge.io import quantize

            result = quantize(rgb, bits)
        if image.alpha is not None:
            from qualedge.io import quantize

            a = quantize(np.clip(imresize(image.alpha, s), 0, 1), bits)
            result = np.concatenate([result, a[:, :, None]], axis=2)
        times["post"] = time.perf_counter() - t0
        times["total"] = time.perf_counter() - t_start
        summary = build_summary(
            size=(w, h), scale=s, grid=(nr, nc), tile=(th, tw), overlap=plan.overlap, models=[m.name for m in self.models],
            decisions=decisions, quality=quality if self.qhead is not None else None, routing=self.routing,
            backend=self.options.backend, precision=self.precision, blend=self.blend_impl[1], fallbacks=fallbacks, times=times,
            **({"blend_note": self._blend_note} if getattr(self, "_blend_note", None) else {}),
        )  # fmt: skip
        return RestoreResult(np.ascontiguousarray(result), image.grey, summary, decisions, quality)

    def _route(self, row_crops, nr: int, nc: int, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float]) -> None:
        """Score every tile (quality map, routing signal) and fill ``quality`` and ``decisions`` (1 = heavy); adds
        the time of the quality map and of the routing signal to ``times``."""
        from qualedge.routing import STATISTICS, route_fraction, route_random, route_threshold

        routed = len(self.models) > 1
        scores = np.full((nr, nc), np.nan, np.float32) if routed and self.policy == "adaptive" and self.route_mode == "fraction" else None
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
                    if self.signal == "quality":
                        scores[i] = 1.0 - quality[i]
                    elif self.signal == "gain":
                        scores[i] = self.router.run(rgb).reshape(nc, -1).mean(1)
                    else:
                        scores[i] = STATISTICS[self.signal](crops)
                times["router"] += time.perf_counter() - t1
        if not routed:
            return
        t0 = time.perf_counter()
        if self.policy == "random":
            heavy = route_random((nr, nc), self.heavy_fraction, self.seed)
        elif scores is not None:
            heavy = route_fraction(scores, self.heavy_fraction)
        else:
            heavy = route_threshold(quality, self.threshold)
        decisions[...] = heavy.astype(np.int8)
        times["router"] += time.perf_counter() - t0

    def _infer_row(self, i: int, crops: np.ndarray, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float], outs: np.ndarray) -> int:
        """Inference for tile row ``i`` (crops: (cols, C, th, tw)) by ``decisions[i]`` (``quality`` is filled by the
        routing pass); fills ``outs`` (cols, C, th*s, tw*s) and returns the number of fp32 fall-backs."""
        fallbacks = 0
        t0 = time.perf_counter()
        for mi, backend in enumerate(self.backends):
            idx = np.flatnonzero(decisions[i] == mi)
            for b0 in range(0, len(idx), self.options.batch):
                sel = idx[b0 : b0 + self.options.batch]
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

    def _blend_band(self, rows, ring: np.ndarray, ring_q: np.ndarray | None, i: int, cols, out, done: int, stop: int, bits: int) -> int:
        """Blend output rows [done, stop), which only use tile rows i - 1 and i (ring slots (i - 1) % 2 and i % 2)."""
        if stop <= done:
            return done
        import dataclasses

        def slot(t: np.ndarray) -> np.ndarray:
            if ((t >= 0) & ((t < i - 1) | (t > i))).any():
                raise InferenceError("internal error: a blend band refers to a tile row that is no longer in memory")
            return np.where(t >= 0, t % 2, -1).astype(np.int32)

        local = dataclasses.replace(rows, tile0=slot(rows.tile0), tile1=slot(rows.tile1))
        fn = self.blend_impl[0]
        if fn.__name__ == "blend_cpu":
            fn(ring, local, cols, ring_q, bits=bits, out=out[done:stop])
        else:
            out[done:stop] = fn(ring, local, cols, ring_q, bits=bits)
        return stop


def _tiny_maps():
    from qualedge.runtime.blend.window import axis_map

    m = axis_map([0], 2, 2)
    return m, m


__all__ = ["RestoreOptions", "RestoreResult", "Restorer", "auto_tile", "asdict"]
