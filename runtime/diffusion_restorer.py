"""Tiled AdaQual-Diff restoration on a restoration bundle (``qualedge export-restore``).

Same pipeline as :class:`~qualedge.runtime.restorer.Restorer` (pad, even fixed-size tiles with overlap, fused blend,
alpha and bit depth kept) at scale 1; per tile row:
quality head -> dense quality map (N, 1, T/16, T/16) of each tile -> the restoration graph with that map: inside the
graph the prompt module partitions the tile's map into regions and gives each region its prompt complexity and pool
(the paper's Algorithm 1 at inference) -> restored tiles -> blend.

Modes: ``unrolled`` (default) runs the graph with the K DDIM steps unrolled (one call per batch of tiles);
``loop`` runs the per-step graph K times with the DDIM arithmetic in NumPy between calls (the reference path, and
the baseline the unrolled graph is timed against). The initial noise of tile (row, col) is drawn from
``seed`` and the tile's index, so results are reproducible.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from qualedge.runtime.restorer import RestoreOptions, Restorer, RestoreResult, Routing

from qualedge.bundle import ModelEntry, load_bundle
from qualedge.ddim import ddim_update
from qualedge.errors import BundleError, ConfigError, InferenceError

MODES = ("unrolled", "loop")


class _GraphRunner:
    """One multi-input model of the bundle: ONNX Runtime on its ONNX form, or PyTorch on its safetensors."""

    def __init__(self, folder: Path, entry: ModelEntry, *, backend: str, device: str, threads: int | None, coefficients: list, unrolled: bool) -> None:
        self.backend = backend
        if backend == "ort":
            from qualedge.runtime.backends.ort import OrtBackend

            form = entry.form("onnx", "fp32")
            if form is None:
                raise BundleError(f"model {entry.name} has no fp32 ONNX form; re-export the bundle with 'qualedge export-restore'")
            from qualedge.bundle import onnx_metadata

            self.session = OrtBackend(folder / form.path, device=device, precision="fp32", threads=threads,
                                      expect=onnx_metadata(entry.name, entry.role, entry.arch_id, "fp32")).session  # fmt: skip
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
            net, _ = build_from_state_dict(load_state_dict(weights), source=str(weights), arch=entry.arch_id, hparams=entry.hyperparameters)
            self.threads = threads
            self.device = torch.device(device)
            self.module = (UnrolledSampler(net, coefficients=coefficients) if unrolled else StepDenoiser(net)).to(self.device).eval()
        else:
            raise ConfigError(f"restoration bundles run on the 'ort' or 'torch' backend, not {backend!r}")

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if self.backend == "ort":
            return self.session.run(None, {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(self.names, arrays)})[0]
        import torch
        from qualedge.runtime.backends.torch_backend import intra_op_threads

        with torch.inference_mode(), intra_op_threads(self.threads):
            return self.module(*[torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device) for a in arrays]).float().cpu().numpy()


class DiffusionRestorer(Restorer):
    """Load a restoration bundle once, then ``restore(image)`` many times (output at the input's size)."""

    def __init__(self, bundle: str | Path, options: RestoreOptions | None = None, *, mode: str = "unrolled", seed: int | None = None) -> None:
        self.folder = Path(bundle)
        self.manifest = load_bundle(self.folder)
        if self.manifest.kind != "restoration":
            raise ConfigError(f"bundle {self.folder} is not a restoration bundle (no 'kind': 'restoration' policy); create one with 'qualedge export-restore'")
        self.restoration = pol = self.manifest.restoration_policy()
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        self.options = opts = options or RestoreOptions()
        if opts.backend not in ("ort", "torch"):
            raise ConfigError(f"restoration bundles run on the 'ort' or 'torch' backend, not {opts.backend!r}")
        if opts.precision not in (None, "fp32"):
            raise ConfigError(f"restoration bundles hold fp32 graphs (the prompt module's attention and LayerNorm statistics); got precision {opts.precision!r}")
        self.mode, self.seed = mode, int(pol.seed if seed is None else seed)
        self.steps, self.coefficients = pol.steps, [tuple(c) for c in pol.coefficients]
        # 0 for a regression model (one step from a zero residual); bundles from before the field: diffusion
        self.noise_scale = float(pol.noise_scale)
        self.precision, self.threshold = "fp32", float("nan")
        self.policy, self.route_mode, self.heavy_fraction, self.signal, self.router = "compact", None, None, None, None
        # no routing: one model; the summary's routing fields are dropped in restore()
        self.routing = Routing("compact", "threshold", None, None, "quality", None, self.seed)
        self.scale, self.in_channels, self.multiple = 1, 3, 16
        self.tile = self.fixed = self.minimum = pol.tile
        if opts.tile not in (None, self.tile):
            raise ConfigError(f"this restoration bundle's graphs have a fixed tile of {self.tile}; re-export with --tile {opts.tile} to use that size")
        self.overlap = opts.overlap if opts.overlap is not None else pol.overlap
        # ONNX: each mode has its own graph; PyTorch: both modes build on the one safetensors form of "restore"
        entry = self.manifest.model(pol.restore if mode == "unrolled" or opts.backend == "torch" else pol.restore_step)
        self.models = [entry]
        self.graph = _GraphRunner(self.folder, entry, backend=opts.backend, device=opts.device, threads=opts.threads,
                                  coefficients=self.coefficients, unrolled=mode == "unrolled")  # fmt: skip
        self.qhead = self._open(self.manifest.model(pol.quality_model), "fp32")
        self.backends, self._fp32 = [], {}
        self.blend_impl = self._choose_blend(opts.blend)

    def _noise(self, i: int, n_cols: int, shape: tuple[int, ...]) -> np.ndarray:
        if self.noise_scale == 0.0:
            return np.zeros((n_cols, *shape), np.float32)
        out = np.empty((n_cols, *shape), np.float32)
        for j in range(n_cols):
            out[j] = np.clip(np.random.default_rng([self.seed, i, j]).standard_normal(shape, dtype=np.float32), -1, 1)
        return out

    def _route(self, row_crops, nr: int, nc: int, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float]) -> None:
        return None  # no routing: the quality maps are computed per row, next to the prompts they steer

    def _infer_row(self, i: int, crops: np.ndarray, quality: np.ndarray, decisions: np.ndarray, times: dict[str, float], outs: np.ndarray) -> int:
        nc = crops.shape[0]
        t0 = time.perf_counter()
        qmaps = np.concatenate([self.qhead.run(crops[b : b + self.options.batch]) for b in range(0, nc, self.options.batch)])
        quality[i] = qmaps.reshape(nc, -1).mean(1)
        times["quality"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        noise = self._noise(i, nc, crops.shape[1:])
        for b in range(0, nc, self.options.batch):
            sl = slice(b, b + self.options.batch)
            outs[sl] = self._sample(crops[sl], qmaps[sl], noise[sl])
        if not np.isfinite(outs).all():
            raise InferenceError(f"the restoration model produced NaN/Inf for tile row {i} in fp32; the input or the weights are corrupt")
        times["inference"] += time.perf_counter() - t0
        return 0

    def _sample(self, x: np.ndarray, q: np.ndarray, noise: np.ndarray) -> np.ndarray:
        if self.mode == "unrolled":
            return self.graph(x, q, noise)
        r = r0 = noise
        for c in self.coefficients:
            r0 = self.graph(x, r, np.full((x.shape[0],), c[0], np.float32), q)
            r = ddim_update(r, r0, c)
        return np.clip(x + r0, 0, 1)

    def restore(self, image) -> RestoreResult:
        res = super().restore(image)
        s = res.summary
        s.pop("decisions", None)
        s.pop("routing", None)
        s["quality"].pop("threshold", None)
        pol = self.restoration
        s["restoration"] = {"mode": self.mode, "steps": self.steps, "seed": self.seed, "prompt_mode": pol.prompt_mode,
                            "objective": pol.sampler.objective if pol.sampler else "diffusion"}  # fmt: skip
        return res


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


__all__ = ["DiffusionRestorer", "MODES", "image_runner"]
