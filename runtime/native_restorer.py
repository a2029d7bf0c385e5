"""``qualedge restore --engine native``: the SR stage through the native library (C++ over OpenVINO, the C ABI via
ctypes), with the same ``restore(image) -> RestoreResult`` and summary as :class:`~qualedge.runtime.restorer.Restorer`.

The native engine serves super-resolution bundles with RGB models on the CPU in fp32, bf16 or int8, with the bundle's
routing (its router or a statistic) and the adaptive, random, compact and heavy policies. Everything else (PyTorch,
CUDA/TensorRT, fp16, quality-weighted blending, a router other than the bundle's, luma models, restoration bundles)
runs on the Python runtime; :func:`native_supports` says which and why.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from qualedge.runtime.restorer import RestoreOptions, Restorer, RestoreResult, resolve_routing, select_models
from qualedge.runtime.summary import build_summary

from qualedge.bundle import Manifest, load_bundle
from qualedge.errors import ConfigError
from qualedge.io import Image
from qualedge.io.write import quantize

ENGINES = ("auto", "native", "python")


def native_supports(manifest: Manifest, opts: RestoreOptions) -> str | None:
    """None when the native engine can run the bundle of ``manifest`` with ``opts``, else the reason it cannot."""
    if opts.backend != "ort" or opts.device != "cpu":
        return f"backend {opts.backend} on {opts.device} (the native engine is OpenVINO on the CPU)"
    if opts.precision not in (None, "fp32", "bf16", "int8"):
        return f"precision {opts.precision} (the native engine runs fp32, bf16 or int8)"
    if opts.quality_weighting:
        return "quality-weighted blending"
    if opts.router is not None:
        return "a routing score other than the bundle's (--router)"
    if opts.blend != "auto":
        return f"blend {opts.blend}"
    if manifest.kind != "sr":
        return "a restoration bundle"
    planned = select_models(manifest, Path("."), opts.policy)[0]
    for m in planned:
        if m.desc.in_channels != 3:
            return f"model {m.name} is a luma model"
        if m.form("onnx", "fp32") is None:
            return f"model {m.name} has no fp32 ONNX form"
        if opts.precision == "int8" and m.form("onnx", "int8") is None:
            return f"model {m.name} has no int8 form"
    return None


class NativeRestorer:
    """Load a bundle into the native library once, then ``restore(image)`` many times (thread-safe)."""

    def __init__(
        self, bundle: str | Path, options: RestoreOptions | None = None, *, manifest: Manifest | None = None
    ) -> None:
        from qualedge.runtime.capi_wrapper import POLICIES, CRestorer
        from qualedge.runtime.native_build import build_native

        self.folder = Path(bundle)
        self.options = o = options or RestoreOptions()
        self.manifest = manifest or load_bundle(self.folder)
        why = native_supports(self.manifest, o)
        if why is not None:
            raise ConfigError(f"the native engine cannot run this: {why}; use --engine python (or auto)")
        pol = self.manifest.sr_policy()
        self.models = [m.name for m in select_models(self.manifest, self.folder, o.policy)[1]]
        self.routing = resolve_routing(self.manifest, self.folder, o)  # what the library resolves too, for the summary
        self.precision = o.precision or (pol.precision if pol.precision in ("bf16", "int8") else "fp32")
        self._c = CRestorer(build_native(), self.folder, tile=o.tile or 0, policy=POLICIES[o.policy], batch=o.batch, threads=o.threads or 0,
                            heavy_fraction=o.heavy_fraction, threshold=o.threshold, seed=o.seed, overlap=o.overlap, precision=self.precision)  # fmt: skip
        self.scale = self._c.scale

    def restore(self, image: Image) -> RestoreResult:
        t0 = time.perf_counter()
        bits = 16 if image.bit_depth == 16 else 8
        px = quantize(image.rgb, bits)
        if image.alpha is not None:
            px = np.concatenate([px, quantize(image.alpha, bits)[:, :, None]], axis=2)
        t_in = time.perf_counter() - t0
        out, st, dec, qual = self._c.restore_ex(np.ascontiguousarray(px))
        times = {"quality": st.seconds_routing, "router": 0.0, "inference": st.seconds_inference, "blend": st.seconds_blend, "post": t_in,
                 "total": time.perf_counter() - t0}  # fmt: skip
        summary = build_summary(
            size=(image.width, image.height), scale=self.scale, grid=(st.tile_rows, st.tile_cols), tile=(st.tile_height, st.tile_width),
            overlap=st.overlap, models=self.models, decisions=dec, quality=qual if np.isfinite(qual).any() else None, routing=self.routing,
            backend="openvino", precision=self.precision, blend="c", fallbacks=st.fp32_fallback_tiles, times=times, engine="native",
        )  # fmt: skip
        return RestoreResult(out, image.grey, summary, dec, qual)

    def close(self) -> None:
        self._c.close()


def open_sr_restorer(bundle: str | Path, opts: RestoreOptions, engine: str = "auto", *, log=None):
    """The SR stage for ``engine``: native where it can run (auto), else the Python runtime; ``native`` refuses what
    it cannot run, with the reason."""
    from qualedge.errors import BackendUnavailableError

    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "python":
        return Restorer(bundle, opts)
    manifest = load_bundle(bundle)
    why = native_supports(manifest, opts)
    if why is not None:
        if engine == "native":
            raise ConfigError(f"--engine native cannot run this: {why}; use --engine python (or auto)")
        return Restorer(bundle, opts)
    try:
        return NativeRestorer(bundle, opts, manifest=manifest)
    except BackendUnavailableError as exc:
        if engine == "native":
            raise
        if log:
            log(f"native engine unavailable ({str(exc).splitlines()[0]}); using the Python runtime")
        return Restorer(bundle, opts)


__all__ = ["ENGINES", "NativeRestorer", "native_supports", "open_sr_restorer"]
