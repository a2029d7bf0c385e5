"""Tiled AdaQual-Diff restoration on a restoration bundle (``qualedge export-restore``).

The tile engine of runtime/tile_engine.py (pad, even fixed-size tiles with overlap, fused blend,
alpha and bit depth kept) at scale 1; per tile row:
quality head -> dense quality map (N, 1, T/16, T/16) of each tile -> the restoration graph with that map: inside the
graph the prompt module partitions the tile's map into regions and gives each region its prompt complexity and pool
(the paper's Algorithm 1 at inference) -> restored tiles -> blend.

Modes: ``loop`` (default) runs the per-step graph K times with the DDIM arithmetic in NumPy between calls;
``unrolled`` runs the graph with the K DDIM steps unrolled (one call per batch of tiles). Both give the same output;
the loop is the default because it measured faster on this CPU (benchmarks/results/latency_cpu.md: 1.12x on the
native engine, even on ONNX Runtime). The initial noise of tile (row, col) is
``qualedge.noise.tile_noise(seed, row, col)``, which the native runtime draws bit for bit, so results are
reproducible and the same in both runtimes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from qualedge.runtime.restorer import RestoreOptions, RestoreResult
from qualedge.runtime.summary import build_summary

from qualedge.bundle import ModelEntry, load_bundle
from qualedge.ddim import ddim_sample_steps
from qualedge.errors import BundleError, ConfigError, InferenceError
from qualedge.noise import tile_noise

MODES = ("unrolled", "loop")
DEFAULT_MODE = "loop"  # the faster on this CPU by measurement (benchmarks/results/latency_cpu.md)


class _GraphRunner:
    """One multi-input model of the bundle: ONNX Runtime on its ONNX form, or PyTorch on its safetensors."""

    def __init__(
        self,
        folder: Path,
        entry: ModelEntry,
        *,
        backend: str,
        device: str,
        threads: int | None,
        coefficients: list,
        unrolled: bool,
        precision: str = "fp32",
    ) -> None:
        self.backend = backend
        if backend == "ort":
            from qualedge.runtime.backends.ort import OrtBackend

            form = entry.form("onnx", precision)
            if form is None:
                hint = " --precision fp32,int8 --calibration DIR" if precision == "int8" else ""
                raise BundleError(f"model {entry.name} has no {precision} ONNX form; re-export the bundle with 'qualedge export-restore{hint}'")
            from qualedge.bundle import onnx_metadata

            self.session = OrtBackend(folder / form.path, device=device, precision=precision, threads=threads,
                                      expect=onnx_metadata(entry.name, entry.role, entry.arch_id, precision)).session  # fmt: skip
            self.names = [i.name for i in self.session.get_inputs()]
        elif backend == "torch":
            import torch

            from qualedge.diffusion import StepDenoiser, UnrolledSampler
            from qualedge.weights.load import load_state_dict
            from qualedge.weights.model_load import build_from_state_dict

            form = entry.form("safetensors")
            if form is None:
                raise BundleError(f"model {entry.name} has no safetensors form for the PyTorch backend")
            weights = folder / form.path
            net, _ = build_from_state_dict(
                load_state_dict(weights), source=str(weights), arch=entry.arch_id, hparams=entry.hyperparameters
            )
            self.threads = threads
            self.device = torch.device(device)
            self.module = (
                (UnrolledSampler(net, coefficients=coefficients) if unrolled else StepDenoiser(net))
                .to(self.device)
                .eval()
            )
        else:
            raise ConfigError(f"restoration bundles run on the 'ort' or 'torch' backend, not {backend!r}")

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if self.backend == "ort":
            return self.session.run(
                None, {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(self.names, arrays)}
            )[0]
        import torch
        from qualedge.runtime.backends.torch_backend import intra_op_threads

        with torch.inference_mode(), intra_op_threads(self.threads):
            return (
                self.module(
                    *[torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device) for a in arrays]
                )
                .float()
                .cpu()
                .numpy()
            )


def restoration_info(pol, mode: str, seed: int) -> dict:
    """The restoration section of a summary (both runtimes): mode, steps, seed, prompt mode, objective."""
    return {"mode": mode, "steps": pol.steps, "seed": int(seed), "prompt_mode": pol.prompt_mode,
            "objective": pol.sampler.objective if pol.sampler else "diffusion"}  # fmt: skip


class DiffusionStrategy:
    """AdaQual-Diff on the tiles: per tile row the quality head's dense maps, then the restoration graph with those
    maps and the tiles' seeded noise (the prompt module inside the graph does Algorithm 1: regions, prompt complexity
    and pools). No routing: one model."""

    def __init__(
        self, graph: _GraphRunner, qhead, *, mode: str, coefficients: list, noise_scale: float, seed: int, batch: int
    ) -> None:
        self.graph, self.qhead, self.mode, self.coefficients = graph, qhead, mode, coefficients
        self.noise_scale, self.seed, self.batch = noise_scale, seed, batch

    def _noise(self, i: int, n_cols: int, shape: tuple[int, ...]) -> np.ndarray:
        if self.noise_scale == 0.0:
            return np.zeros((n_cols, *shape), np.float32)
        return np.stack([tile_noise(self.seed, i, j, shape) for j in range(n_cols)])

    def route(
        self, row_crops, nr: int, nc: int, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float]
    ) -> None:
        return None  # no routing: the quality maps are computed per row, next to the prompts they steer

    def infer_row(self, i: int, crops: np.ndarray, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float], outs: np.ndarray) -> int:  # fmt: skip
        nc = crops.shape[0]
        t0 = time.perf_counter()
        qmaps = np.concatenate([self.qhead.run(crops[b : b + self.batch]) for b in range(0, nc, self.batch)])
        quality[i] = qmaps.reshape(nc, -1).mean(1)
        times["quality"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        noise = self._noise(i, nc, crops.shape[1:])
        for b in range(0, nc, self.batch):
            sl = slice(b, b + self.batch)
            outs[sl] = self._sample(crops[sl], qmaps[sl], noise[sl])
        if not np.isfinite(outs).all():
            raise InferenceError(
                f"the restoration model produced NaN/Inf for tile row {i} in fp32; the input or the weights are corrupt"
            )
        times["inference"] += time.perf_counter() - t0
        return 0

    def _sample(self, x: np.ndarray, q: np.ndarray, noise: np.ndarray) -> np.ndarray:
        if self.mode == "unrolled":
            return self.graph(x, q, noise)
        return ddim_sample_steps(self.graph, x, q, noise, self.coefficients)


class DiffusionRestorer:
    """Load a restoration bundle once, then ``restore(image)`` many times (output at the input's size): the tile
    engine with :class:`DiffusionStrategy`."""

    def __init__(
        self,
        bundle: str | Path,
        options: RestoreOptions | None = None,
        *,
        mode: str = DEFAULT_MODE,
        seed: int | None = None,
    ) -> None:
        from qualedge.runtime.backends import open_backend
        from qualedge.runtime.tile_engine import Geometry, TileEngine

        self.folder = Path(bundle)
        self.manifest = load_bundle(self.folder)
        if self.manifest.kind != "restoration":
            raise ConfigError(
                f"bundle {self.folder} is not a restoration bundle (no 'kind': 'restoration' policy); create one with 'qualedge export-restore'"
            )
        self.restoration = pol = self.manifest.restoration_policy()
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        self.options = opts = options or RestoreOptions()
        if opts.backend not in ("ort", "torch"):
            raise ConfigError(f"restoration bundles run on the 'ort' or 'torch' backend, not {opts.backend!r}")
        if opts.precision not in (None, "fp32", "int8") or (opts.precision == "int8" and opts.backend != "ort"):
            raise ConfigError(
                "restoration bundles hold fp32 graphs (the prompt module's attention and LayerNorm statistics; bf16 on the native engine) "
                f"and optionally int8 forms (ONNX Runtime); got precision {opts.precision!r} on {opts.backend!r}"
            )
        self.mode, self.precision, self.scale = mode, opts.precision or "fp32", 1
        self.steps, coefficients = pol.steps, [tuple(c) for c in pol.coefficients]
        self.tile = pol.tile
        if opts.tile not in (None, self.tile):
            raise ConfigError(
                f"this restoration bundle's graphs have a fixed tile of {self.tile}; re-export with --tile {opts.tile} to use that size"
            )
        self.overlap = opts.overlap if opts.overlap is not None else pol.overlap
        # ONNX: each mode has its own graph; PyTorch: both modes build on the one safetensors form of "restore"
        entry = self.manifest.model(pol.restore if mode == "unrolled" or opts.backend == "torch" else pol.restore_step)
        self.models = [entry]
        graph = _GraphRunner(self.folder, entry, backend=opts.backend, device=opts.device, threads=opts.threads,
                             coefficients=coefficients, unrolled=mode == "unrolled", precision=self.precision)  # fmt: skip
        qhead = open_backend(self.folder, self.manifest.model(pol.quality_model), backend=opts.backend, device=opts.device,
                             precision="fp32", threads=opts.threads)  # fmt: skip
        # noise_scale 0: a regression model (one step from a zero residual); bundles from before the field: diffusion
        self.strategy = DiffusionStrategy(graph, qhead, mode=mode, coefficients=coefficients, noise_scale=float(pol.noise_scale),
                                          seed=int(pol.seed if seed is None else seed), batch=opts.batch)  # fmt: skip
        geometry = Geometry(
            scale=1,
            in_channels=3,
            multiple=16,
            minimum=self.tile,
            fixed=self.tile,
            tile=self.tile,
            overlap=self.overlap,
        )
        self.engine = TileEngine(
            geometry, self.strategy, blend=opts.blend, device=opts.device, quality_weighting=opts.quality_weighting
        )

    @property
    def seed(self) -> int:
        """The seed the tiles' initial noise is drawn from (settable between images)."""
        return self.strategy.seed

    @seed.setter
    def seed(self, value: int) -> None:
        self.strategy.seed = int(value)

    def restore(self, image) -> RestoreResult:
        run = self.engine.run(image)
        e = self.engine
        restoration = restoration_info(self.restoration, self.mode, self.seed)
        summary = build_summary(
            size=(image.width, image.height), scale=1, grid=run.grid, tile=run.tile, overlap=run.overlap,
            models=[m.name for m in self.models], decisions=None, quality=run.quality, routing=None,
            backend=self.options.backend, precision=self.precision, blend=e.blend_name, fallbacks=0, times=run.times,
            restoration=restoration, **({"blend_note": e.blend_note} if e.blend_note else {}),
        )  # fmt: skip
        return RestoreResult(run.pixels, image.grey, summary, run.decisions, run.quality)


def image_runner(bundle: str | Path, options: RestoreOptions | None = None):
    """A function (degraded (H, W, 3) float in [0, 1], seed) -> restored (H, W, 3) float, through the tiled runtime
    (what ``qualedge eval-restore`` uses for bundles)."""
    from qualedge.io import Image

    rest = DiffusionRestorer(bundle, options)

    def run(img: np.ndarray, seed: int) -> np.ndarray:
        rest.seed = seed
        return rest.restore(Image(rgb=np.ascontiguousarray(img, dtype=np.float32))).pixels.astype(np.float32) / 255.0

    run.source = str(bundle)  # type: ignore[attr-defined]
    return run


__all__ = ["DiffusionRestorer", "DiffusionStrategy", "MODES", "image_runner", "restoration_info"]
