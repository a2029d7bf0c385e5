"""``qualedge restore --engine native``: the SR stage through the native library (C++ over OpenVINO, the C ABI via
ctypes), with the same ``restore(image) -> RestoreResult`` and summary as :class:`~qualedge.runtime.restorer.Restorer`.

The native engine serves super-resolution bundles with RGB models on the CPU in fp32 or bf16, with the bundle's
routing (its router or a statistic) and the adaptive, random, compact and heavy policies. Everything else (PyTorch,
CUDA/TensorRT, fp16, quality-weighted blending, a router other than the bundle's, luma models, restoration bundles)
runs on the Python runtime; :func:`native_supports` says which and why.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from qualedge.runtime.restorer import RestoreOptions, RestoreResult

from qualedge.bundle import load_bundle
from qualedge.io import Image
from qualedge.io.write import quantize

ENGINES = ("auto", "native", "python")


def native_supports(bundle: str | Path, opts: RestoreOptions) -> str | None:
    """None when the native engine can run ``bundle`` with ``opts``, else the reason it cannot."""
    if opts.backend != "ort" or opts.device != "cpu":
        return f"backend {opts.backend} on {opts.device} (the native engine is OpenVINO on the CPU)"
    if opts.precision not in (None, "fp32", "bf16"):
        return f"precision {opts.precision} (the native engine runs fp32 or bf16)"
    if opts.quality_weighting:
        return "quality-weighted blending"
    if opts.router is not None:
        return "a routing score other than the bundle's (--router)"
    if opts.blend != "auto":
        return f"blend {opts.blend}"
    man = load_bundle(bundle)
    if man.kind != "sr":
        return "a restoration bundle"
    pol = man.sr_policy()
    names = [n for n in (pol.compact, pol.heavy) if n] or [m.name for m in man.by_role("sr")[:1]]
    for n in names:
        if man.model(n).desc.in_channels != 3:
            return f"model {n} is a luma model"
        if man.model(n).form("onnx", "fp32") is None:
            return f"model {n} has no fp32 ONNX form"
    return None


class NativeRestorer:
    """Load a bundle into the native library once, then ``restore(image)`` many times (thread-safe)."""

    def __init__(self, bundle: str | Path, options: RestoreOptions | None = None) -> None:
        from qualedge.runtime.capi_wrapper import POLICIES, CRestorer
        from qualedge.runtime.native_build import build_native

        from qualedge.errors import ConfigError

        self.folder = Path(bundle)
        self.options = o = options or RestoreOptions()
        why = native_supports(self.folder, o)
        if why is not None:
            raise ConfigError(f"the native engine cannot run this: {why}; use --engine python (or auto)")
        self.manifest = load_bundle(self.folder)
        pol = self.manifest.sr_policy()
        self.policy = o.policy
        self.precision = o.precision or ("bf16" if pol.precision == "bf16" else "fp32")
        self._c = CRestorer(build_native(), self.folder, tile=o.tile or 0, policy=POLICIES[o.policy], batch=o.batch, threads=o.threads or 0,
                            heavy_fraction=o.heavy_fraction, threshold=o.threshold, seed=o.seed, overlap=o.overlap, precision=self.precision)  # fmt: skip
        self.scale = self._c.scale
        compact = pol.compact or self.manifest.by_role("sr")[0].name
        if o.policy == "heavy" and pol.heavy:
            self.models = [pol.heavy]
        elif o.policy == "compact" or not pol.heavy:
            self.models = [compact]
        else:
            self.models = [compact, pol.heavy]
        routed = len(self.models) > 1
        self.route_mode = None
        if routed:
            self.route_mode = "fraction" if (o.heavy_fraction is not None or (o.threshold is None and pol.heavy_fraction is not None) or o.policy == "random") else "threshold"
        self.heavy_fraction = (o.heavy_fraction if o.heavy_fraction is not None else pol.heavy_fraction) if self.route_mode == "fraction" else None
        self.threshold = (o.threshold if o.threshold is not None else pol.threshold) if self.route_mode == "threshold" else None
        self.signal = ("gain" if pol.router not in ("quality", "gradient", "variance", "edges") else pol.router) if o.policy == "adaptive" else None
        self.seed = o.seed if o.seed is not None else pol.seed

    def restore(self, image: Image) -> RestoreResult:
        t0 = time.perf_counter()
        bits = 16 if image.bit_depth == 16 else 8
        px = quantize(image.rgb, bits)
        if image.alpha is not None:
            px = np.concatenate([px, quantize(image.alpha, bits)[:, :, None]], axis=2)
        t_in = time.perf_counter() - t0
        out, st, dec, qual = self._c.restore_ex(np.ascontiguousarray(px))
        if self.policy == "heavy":
            dec = np.zeros_like(dec)  # the model index within self.models, as the Python runtime reports it
        nr, nc = st.tile_rows, st.tile_cols
        w, h = image.width, image.height
        q_mean = float(np.nanmean(qual)) if np.isfinite(qual).any() else None
        summary = {
            "input": [w, h], "output": [w * self.scale, h * self.scale], "scale": self.scale,
            "tiles": {"rows": nr, "cols": nc, "tile": [st.tile_height, st.tile_width], "overlap": st.overlap},
            "models": list(self.models),
            "decisions": {m: int((dec == k).sum()) for k, m in enumerate(self.models)},
            "quality": {"mean": q_mean, "threshold": self.threshold},
            "routing": {"policy": self.policy, "mode": self.route_mode, "heavy_fraction": self.heavy_fraction, "threshold": self.threshold,
                        "signal": self.signal, "seed": self.seed if self.policy == "random" else None, "heavy_tiles": st.heavy_tiles},
            "engine": "native", "backend": "openvino", "precision": self.precision, "blend": "c",
            "fp32_fallback_tiles": st.fp32_fallback_tiles,
            "times_s": {"quality": round(st.seconds_routing, 4), "router": 0.0, "inference": round(st.seconds_inference, 4),
                        "blend": round(st.seconds_blend, 4), "post": round(t_in, 4), "total": round(time.perf_counter() - t0, 4)},
        }  # fmt: skip
        if not math.isfinite(summary["times_s"]["total"]):
            summary["times_s"]["total"] = 0.0
        return RestoreResult(out, image.grey, summary, dec, qual)

    def close(self) -> None:
        self._c.close()


def open_sr_restorer(bundle: str | Path, opts: RestoreOptions, engine: str = "auto", *, log=None):
    """The SR stage for ``engine``: native where it can run (auto), else the Python runtime; ``native`` refuses what
    it cannot run, with the reason."""
    from qualedge.runtime.restorer import Restorer

    from qualedge.errors import BackendUnavailableError, ConfigError

    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "python":
        return Restorer(bundle, opts)
    why = native_supports(bundle, opts)
    if why is not None:
        if engine == "native":
            raise ConfigError(f"--engine native cannot run this: {why}; use --engine python (or auto)")
        return Restorer(bundle, opts)
    try:
        return NativeRestorer(bundle, opts)
    except BackendUnavailableError as exc:
        if engine == "native":
            raise
        if log:
            log(f"native engine unavailable ({str(exc).splitlines()[0]}); using the Python runtime")
        return Restorer(bundle, opts)


__all__ = ["ENGINES", "NativeRestorer", "native_supports", "open_sr_restorer"]
