"""``qualedge restore --engine native``: SR, restoration and restoration-then-SR chains through the native library
(C++ over OpenVINO, the C ABI via ctypes), with the same ``restore(image) -> RestoreResult`` and summaries as the
Python runtime (:class:`~qualedge.runtime.restorer.Restorer`, :class:`~qualedge.runtime.diffusion_restorer.DiffusionRestorer`,
:class:`~qualedge.runtime.chain.Chain`).

The native engine serves super-resolution bundles with RGB models on the CPU in fp32, bf16 or int8, with the bundle's
routing (its router or a statistic) and the adaptive, random, compact and heavy policies; restoration bundles in fp32
or bf16 (unrolled graph or step loop, noise seeded as qualedge.noise draws it); and chains of the two in one handle.
Everything else (PyTorch, CUDA/TensorRT, fp16, quality-weighted blending, a router other than the bundle's, luma
models) runs on the Python runtime; :func:`native_supports` says which and why.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from qualedge.runtime.capi_wrapper import POLICIES
from qualedge.runtime.diffusion_restorer import DEFAULT_MODE, restoration_info
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
    if opts.quality_weighting:
        return "quality-weighted blending"
    if opts.router is not None:
        return "a routing score other than the bundle's (--router)"
    if opts.blend != "auto":
        return f"blend {opts.blend}"
    if manifest.kind == "restoration":
        if opts.precision not in (None, "fp32", "bf16", "int8"):
            return f"precision {opts.precision} for a restoration bundle (fp32, bf16 or int8)"
        pol = manifest.restoration_policy()
        for name in (pol.restore, pol.restore_step, pol.quality_model):
            if manifest.model(name).form("onnx", "fp32") is None:
                return f"model {name} has no fp32 ONNX form"
            if opts.precision == "int8" and name != pol.quality_model and manifest.model(name).form("onnx", "int8") is None:
                return f"model {name} has no int8 form"
        return None
    if opts.precision not in (None, "fp32", "bf16", "int8"):
        return f"precision {opts.precision} (the native engine runs fp32, bf16 or int8)"
    planned = select_models(manifest, Path("."), opts.policy)[0]
    for m in planned:
        if m.desc.in_channels != 3:
            return f"model {m.name} is a luma model"
        if m.form("onnx", "fp32") is None:
            return f"model {m.name} has no fp32 ONNX form"
        if opts.precision == "int8" and m.form("onnx", "int8") is None:
            return f"model {m.name} has no int8 form"
    return None


def _pixels(image: Image) -> np.ndarray:
    bits = 16 if image.bit_depth == 16 else 8
    px = quantize(image.rgb, bits)
    if image.alpha is not None:
        px = np.concatenate([px, quantize(image.alpha, bits)[:, :, None]], axis=2)
    return np.ascontiguousarray(px)


class _Stage:
    """What the summary of one native stage needs: the bundle's routing or restoration settings."""

    def __init__(self, folder: Path, manifest: Manifest, o: RestoreOptions, *, mode: str = DEFAULT_MODE, seed: int | None = None) -> None:
        self.folder, self.manifest, self.options = folder, manifest, o
        if manifest.kind == "restoration":
            pol = manifest.restoration_policy()
            if o.tile not in (None, pol.tile):
                raise ConfigError(f"this restoration bundle's graphs have a fixed tile of {pol.tile}; re-export with --tile {o.tile} to use that size")
            self.models, self.routing, self.scale = [pol.restore if mode == "unrolled" else pol.restore_step], None, 1
            self.precision = o.precision or "fp32"
            self.seed = int(pol.seed if seed is None else seed)
            self.restoration = restoration_info(pol, mode, self.seed)
        else:
            pol = manifest.sr_policy()
            planned, run = select_models(manifest, folder, o.policy)
            self.models, self.scale = [m.name for m in run], planned[0].desc.scale
            self.routing = resolve_routing(manifest, folder, o)  # what the library resolves too, for the summary
            self.precision = o.precision or (pol.precision if pol.precision in ("bf16", "int8") else "fp32")
            self.seed, self.restoration = o.seed, None

    def c_options(self) -> dict:
        o = self.options
        if self.restoration is not None:
            return dict(tile=o.tile or 0, batch=o.batch, threads=o.threads or 0, seed=self.seed, overlap=o.overlap, precision=self.precision,
                        restore_mode=self.restoration["mode"])  # fmt: skip
        return dict(tile=o.tile or 0, policy=POLICIES[o.policy], batch=o.batch, threads=o.threads or 0, heavy_fraction=o.heavy_fraction,
                    threshold=o.threshold, seed=o.seed, overlap=o.overlap, precision=self.precision)  # fmt: skip

    def summary(self, size: tuple[int, int], st, dec: np.ndarray, qual: np.ndarray, times: dict[str, float]) -> dict:
        return build_summary(
            size=size, scale=self.scale, grid=(st.tile_rows, st.tile_cols), tile=(st.tile_height, st.tile_width),
            overlap=st.overlap, models=self.models, decisions=None if self.routing is None else dec,
            quality=qual if np.isfinite(qual).any() else None, routing=self.routing, backend="openvino", precision=self.precision, blend="c",
            fallbacks=st.fp32_fallback_tiles, times=times, restoration=self.restoration, engine="native",
        )  # fmt: skip


def _times(st, extra: float, total: float) -> dict[str, float]:
    return {"quality": st.seconds_routing, "router": 0.0, "inference": st.seconds_inference, "blend": st.seconds_blend, "post": extra, "total": total}


class NativeRestorer:
    """Load an SR or a restoration bundle into the native library once, then ``restore(image)`` many times
    (thread-safe). ``mode`` and ``seed``: a restoration bundle's graph (unrolled or loop) and noise seed."""

    def __init__(self, bundle: str | Path, options: RestoreOptions | None = None, *, manifest: Manifest | None = None, mode: str = DEFAULT_MODE,
                 seed: int | None = None) -> None:  # fmt: skip
        from qualedge.runtime.capi_wrapper import CRestorer
        from qualedge.runtime.native_build import build_native

        self.folder = Path(bundle)
        self.options = o = options or RestoreOptions()
        self.manifest = manifest or load_bundle(self.folder)
        why = native_supports(self.manifest, o)
        if why is not None:
            raise ConfigError(f"the native engine cannot run this: {why}; use --engine python (or auto)")
        self._stage = _Stage(self.folder, self.manifest, o, mode=mode, seed=seed)
        self.models, self.routing, self.precision = self._stage.models, self._stage.routing, self._stage.precision
        self._c = CRestorer(build_native(), self.folder, **self._stage.c_options())
        self.scale = self._c.scale

    def restore(self, image: Image) -> RestoreResult:
        t0 = time.perf_counter()
        px = _pixels(image)
        t_in = time.perf_counter() - t0
        out, st, dec, qual = self._c.restore_ex(px)
        summary = self._stage.summary((image.width, image.height), st, dec, qual, _times(st, t_in, time.perf_counter() - t0))
        return RestoreResult(out, image.grey, summary, dec, qual)

    def close(self) -> None:
        self._c.close()


class NativeChain:
    """Restoration then SR through one native chain handle (qe_create_chain): the restored image stays in the
    library's memory; the summary has the SR stage's fields with the restoration stage's under ``"restoration"``."""

    def __init__(self, restore_bundle: str | Path, bundle: str | Path, options: RestoreOptions, restore_options: RestoreOptions, *,
                 mode: str = DEFAULT_MODE, seed: int | None = None, manifests: tuple[Manifest, Manifest] | None = None) -> None:  # fmt: skip
        from qualedge.runtime.capi_wrapper import CRestorer
        from qualedge.runtime.native_build import build_native

        stages = []
        ms = manifests or (load_bundle(restore_bundle), load_bundle(bundle))
        for folder, o, kind, m in ((restore_bundle, restore_options, "restoration", ms[0]), (bundle, options, "sr", ms[1])):
            if m.kind != kind:
                raise ConfigError(f"bundle {folder} is a {m.kind} bundle; the chain needs a {kind} bundle there")
            why = native_supports(m, o)
            if why is not None:
                raise ConfigError(f"the native engine cannot run this: {why}; use --engine python (or auto)")
            stages.append(_Stage(Path(folder), m, o, mode=mode, seed=seed))
        self._stages = stages
        self._c = CRestorer(build_native(), bundle, **stages[1].c_options(), restore_bundle=restore_bundle, restore_options=stages[0].c_options())
        self.scale = self._c.scale

    def restore(self, image: Image) -> RestoreResult:
        from qualedge.runtime.summary import chain_summary

        t0 = time.perf_counter()
        px = _pixels(image)
        t_in = time.perf_counter() - t0
        out, (st_r, dec_r, q_r), (st_s, dec, qual) = self._c.restore_chain_ex(px)
        total = time.perf_counter() - t0
        size = (image.width, image.height)  # the restored image has the input's size
        first = self._stages[0].summary(size, st_r, dec_r, q_r, _times(st_r, t_in, st_r.seconds_total + t_in))
        last = self._stages[1].summary(size, st_s, dec, qual, _times(st_s, 0.0, total - first["times_s"]["total"]))
        return RestoreResult(out, image.grey, chain_summary([first, last]), dec, qual)

    def close(self) -> None:
        self._c.close()


def open_stages(bundle: str | Path | None, restore_bundle: str | Path | None, opts: RestoreOptions, restore_opts: RestoreOptions,
                engine: str = "auto", *, mode: str = DEFAULT_MODE, seed: int | None = None, log=None):  # fmt: skip
    """The restorer for SR on ``bundle``, restoration on ``restore_bundle``, or both chained, on ``engine``: native
    where it can run everything (auto), else the Python runtime; ``native`` refuses what it cannot run, with the
    reason."""
    from qualedge.runtime.diffusion_restorer import DiffusionRestorer

    from qualedge.errors import BackendUnavailableError

    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {engine!r}")
    if bundle is None and restore_bundle is None:
        raise ConfigError("nothing to run: give an SR bundle, a restoration bundle, or both")

    def python():
        stages = []
        if restore_bundle is not None:
            stages.append(DiffusionRestorer(restore_bundle, restore_opts, mode=mode, seed=seed))
        if bundle is not None:
            stages.append(Restorer(bundle, opts))
        if len(stages) == 1:
            return stages[0]
        from qualedge.runtime.chain import Chain

        return Chain(*stages)

    if engine == "python":
        return python()
    # each manifest is read (and its files' hashes checked) once, then handed to the native restorer
    manifests = {f: load_bundle(f) for f in (restore_bundle, bundle) if f is not None}
    whys = [why for f, o in ((restore_bundle, restore_opts), (bundle, opts)) if f is not None and (why := native_supports(manifests[f], o)) is not None]
    if whys:
        if engine == "native":
            raise ConfigError(f"--engine native cannot run this: {'; '.join(whys)}; use --engine python (or auto)")
        return python()
    try:
        if bundle is not None and restore_bundle is not None:
            return NativeChain(restore_bundle, bundle, opts, restore_opts, mode=mode, seed=seed, manifests=(manifests[restore_bundle], manifests[bundle]))
        one, o = (bundle, opts) if bundle is not None else (restore_bundle, restore_opts)
        return NativeRestorer(one, o, manifest=manifests[one], mode=mode, seed=seed)
    except BackendUnavailableError as exc:
        if engine == "native":
            raise
        if log:
            log(f"native engine unavailable ({str(exc).splitlines()[0]}); using the Python runtime")
        return python()


def open_sr_restorer(bundle: str | Path, opts: RestoreOptions, engine: str = "auto", *, log=None):
    """The SR stage alone on ``engine`` (see :func:`open_stages`)."""
    return open_stages(bundle, None, opts, RestoreOptions(), engine, log=log)


__all__ = ["ENGINES", "NativeChain", "NativeRestorer", "native_supports", "open_sr_restorer", "open_stages"]
