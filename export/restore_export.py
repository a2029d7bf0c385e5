"""Export an AdaQual-Diff restoration model (a ``train-restore`` checkpoint or weights) as a restoration bundle.

The bundle holds, besides the safetensors form and the quality head (role ``quality``, its dense 16-pixel cell map
feeds the prompt module):
- ``restore_step`` (role ``restore-step``): one network evaluation, inputs ``x`` (N, 3, T, T) degraded tile, ``r_t``
  (N, 3, T, T) noisy residual, ``t`` (N,) timestep, ``q`` (N, 1, T/16, T/16) quality map; output ``y`` = r0_hat.
  The runtime's step loop does the DDIM arithmetic between calls with the coefficients stored in the policy.
- ``restore`` (role ``restore-unrolled``): all K DDIM steps with constant timesteps, inputs ``x``, ``q`` and ``noise``
  (N, 3, T, T), output the restored tile in [0, 1].
Both graphs have a fixed tile T (the prompt module's region partition and token masks are static; TensorRT builds
one shape) and a symbolic batch. Each goes through the parity gate against PyTorch on a degraded photo tile with
its real quality map and on random inputs; a failing form fails the export and nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qualedge._version import __version__
from qualedge.bundle import ABI_VERSION, Form, Manifest, ModelEntry, onnx_metadata, write_manifest
from qualedge.diffusion import SamplerSpec, StepDenoiser, UnrolledSampler
from qualedge.errors import ConfigError
from qualedge.weights.cache import sha256_file
from qualedge.weights.model_load import weights_metadata

CELL = 16


def _io(name: str, shape: list, rng: list[float] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "dtype": "float32", "shape": shape}
    if rng:
        d["range"] = rng
    return d


def _parity_cases(tile: int, seed: int = 0) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Named input sets: a degraded photo tile with its quality-head map, and a random tile with a random map."""
    from qualedge.export.api import EXAMPLE

    from qualedge.data.degradations.composite import composite
    from qualedge.iqa.head import load_quality_head

    rng = np.random.default_rng(seed)
    cases = []
    xs = []
    if EXAMPLE.is_file():
        from qualedge.io import read_image

        rgb = read_image(EXAMPLE).rgb
        if min(rgb.shape[:2]) >= tile:
            xs.append(("photo-low_haze_rain", composite(np.ascontiguousarray(rgb[:tile, :tile]), "low_haze_rain", rng, 1.0)))
    xs.append(("uniform", rng.random((tile, tile, 3), dtype=np.float32)))
    head = load_quality_head()
    for name, img in xs:
        x = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)[None]
        with torch.no_grad():
            q = head.cell_map(torch.from_numpy(x)).numpy().astype(np.float32)
        if name == "uniform":
            q = rng.random(q.shape, dtype=np.float32)
        noise = np.clip(rng.standard_normal(x.shape), -1, 1).astype(np.float32)
        cases.append((name, {"x": x, "q": q, "noise": noise}))
    return cases


def export_restore_bundle(
    out: str | Path,
    *,
    checkpoint: str | None = None,
    weights: str | None = None,
    tile: int = 256,
    steps: int | None = None,
    exporter: str = "dynamo",
    opset: int = 18,
    overwrite: bool = False,
    overlap: int | None = None,
    seed: int = 0,
    precisions: tuple[str, ...] = ("fp32",),
    calibration: str | Path | None = None,
    int8_min_psnr: float | None = None,
    int8_max_nr_change: float | None = None,
) -> Manifest:
    """Write a restoration bundle at ``out`` (see the module docstring) and return its manifest. ``precisions``
    ("fp32"[, "int8"]): with int8, both graphs also get an INT8 form calibrated on degraded crops of the photos in
    ``calibration`` and gated on held-out ones (see :func:`_int8_forms`)."""
    from qualedge.export.api import ModelSource, qhead_entry, resolve_model, staging_folder
    from qualedge.export.onnx_export import export_onnx, stamp_onnx
    from qualedge.export.parity import check_parity, ort_runner

    from qualedge.weights.load import save_state_dict

    if set(precisions) - {"fp32", "int8"} or "fp32" not in precisions:
        raise ConfigError(f"restoration bundles hold fp32 graphs and optionally int8 forms; got precisions {precisions}")
    if "int8" in precisions and calibration is None:
        raise ConfigError("the int8 form needs calibration photos: pass --calibration DIR (a folder of real photos)")
    if (checkpoint is None) == (weights is None):
        raise ConfigError("give exactly one of checkpoint (a train-restore run folder) or weights (an adaqual_unet safetensors file)")
    # with a weights file the architecture and its hyperparameters are detected from the tensors themselves
    src = ModelSource(name="restore", role="restore-unrolled", checkpoint=checkpoint, weights=weights)
    model, desc, info = resolve_model(src)
    if desc.arch_id != "adaqual_unet":
        raise ConfigError(f"{checkpoint or weights} holds a {desc.arch_id} model, not an AdaQual-Diff restoration model (adaqual_unet)")
    if checkpoint:
        from qualedge.checkpoint import read_checkpoint

        how = SamplerSpec.from_meta(read_checkpoint(checkpoint).meta, steps=steps)
    else:
        from qualedge.weights.load import read_metadata

        how = SamplerSpec.from_meta(read_metadata(weights), steps=steps)
    steps = how.steps
    mult = desc.size.multiple_of
    if tile % mult or tile < 2 * mult:
        raise ConfigError(f"tile {tile} must be a multiple of {mult} and at least {2 * mult} (the U-Net's downsamplings)")
    overlap = min(32, tile // 4) if overlap is None else overlap
    if not 0 <= overlap * 4 <= tile:
        raise ConfigError(f"overlap {overlap}: the runtime's tile overlap must be in [0, tile / 4] = [0, {tile // 4}] for tile {tile}")
    coefs = how.coefficients()
    step_mod, unrolled = StepDenoiser(model).eval(), UnrolledSampler(model, coefficients=coefs).eval()
    qs = tile // CELL
    cases = _parity_cases(tile, seed)
    with staging_folder(out, overwrite=overwrite) as tmp:
        st = tmp / "restore.safetensors"
        save_state_dict(st, model.state_dict(), metadata=weights_metadata(desc))
        b = 2
        ex_q = torch.rand(b, 1, qs, qs)
        # unrolled graph: (x, q, noise) -> restored tile
        up = tmp / "restore.fp32.onnx"
        export_onnx(unrolled, up, in_channels=3, example_size=tile, dynamic=False, dynamic_batch=True, opset=opset, exporter=exporter,
                    extra_inputs={"q": ex_q, "noise": torch.randn(b, 3, tile, tile).clamp(-1, 1)})  # fmt: skip
        stamp_onnx(up, onnx_metadata("restore", "restore-unrolled", desc.arch_id, "fp32"))
        run_u = ort_runner(up)
        rep_u = check_parity(unrolled, run_u, [(n, (c["x"], c["q"], c["noise"])) for n, c in cases], precision="fp32", label="restore (unrolled) fp32")
        shapes = {"dynamic": False, "tile": tile, "batch": "dynamic"}
        unrolled_entry = ModelEntry(
            "restore", "restore-unrolled", desc.arch_id, dict(desc.hyperparameters), desc.to_dict(),
            [Form(path=st.name, format="safetensors", precision="fp32", sha256=sha256_file(st)),
             Form(path=up.name, format="onnx", precision="fp32", sha256=sha256_file(up), opset=opset, shapes=shapes, parity=rep_u,
                  inputs=[_io("x", ["N", 3, tile, tile], [0, 1]), _io("q", ["N", 1, qs, qs], [0, 1]), _io("noise", ["N", 3, tile, tile])],
                  outputs=[_io("y", ["N", 3, tile, tile], [0, 1])], extra={"exporter": exporter, "steps": steps})],
            extra=info,
        )  # fmt: skip
        # per-step graph: (x, r_t, t, q) -> r0_hat, checked at every timestep the sampler uses
        sp = tmp / "restore_step.fp32.onnx"
        export_onnx(step_mod, sp, in_channels=3, example_size=tile, dynamic=False, dynamic_batch=True, opset=opset, exporter=exporter,
                    extra_inputs={"r_t": torch.randn(b, 3, tile, tile), "t": torch.tensor([500.0, 0.0]), "q": ex_q})  # fmt: skip
        stamp_onnx(sp, onnx_metadata("restore_step", "restore-step", desc.arch_id, "fp32"))
        run_s = ort_runner(sp)
        step_cases = [(f"{n}-t{t}", (c["x"], c["noise"], np.full((1,), float(t), np.float32), c["q"])) for n, c in cases for t, *_ in coefs]
        rep_s = check_parity(step_mod, run_s, step_cases, precision="fp32", value_range=(-1.0, 1.0), label="restore_step fp32")
        step_entry = ModelEntry(
            "restore_step", "restore-step", desc.arch_id, dict(desc.hyperparameters), desc.to_dict(),
            [Form(path=sp.name, format="onnx", precision="fp32", sha256=sha256_file(sp), opset=opset, shapes=shapes, parity=rep_s,
                  inputs=[_io("x", ["N", 3, tile, tile], [0, 1]), _io("r_t", ["N", 3, tile, tile]), _io("t", ["N"]), _io("q", ["N", 1, qs, qs], [0, 1])],
                  outputs=[_io("y", ["N", 3, tile, tile], [-1, 1])], extra={"exporter": exporter})],
        )  # fmt: skip
        if "int8" in precisions:
            int8 = _int8_forms(tmp, up, sp, desc, coefs, tile=tile, seed=seed, calibration=calibration, noise_scale=how.noise_scale,
                               min_psnr=int8_min_psnr, max_nr_change=int8_max_nr_change)  # fmt: skip
            for entry, (path, report, info) in zip((unrolled_entry, step_entry), int8):
                fp32_form = entry.form("onnx", "fp32")
                entry.forms.append(dataclasses.replace(fp32_form, path=path.name, precision="int8", sha256=sha256_file(path), parity=report,
                                                       extra={"quantization": info, "calibration": str(calibration),
                                                              "calibration_inputs": "degraded crops (the 11 CDD types in turn)"}))  # fmt: skip
        entries = [unrolled_entry, step_entry, qhead_entry(tmp, exporter=exporter, opset=opset)]
        policy = {
            "kind": "restoration",
            "quality_model": "qhead",
            "restore": "restore",
            "restore_step": "restore_step",
            "steps": steps,
            "coefficients": [list(c) for c in coefs],
            "sampler": how.to_dict(),
            "noise_scale": how.noise_scale,
            "tile": tile,
            "overlap": overlap,
            "seed": seed,
            "precision": "fp32",
            "prompt_mode": desc.hyperparameters.get("prompt_mode"),
        }
        manifest = Manifest(
            models=entries, policy=policy,
            source={"sources": [checkpoint or weights], "exporter": exporter, "torch": torch.__version__},
            abi_version=ABI_VERSION, qualedge_version=__version__,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip
        write_manifest(tmp, manifest)
    return manifest


def _int8_forms(tmp: Path, up: Path, sp: Path, desc, coefs: list, *, tile: int, seed: int, calibration: str | Path, noise_scale: float,
                min_psnr: float | None, max_nr_change: float | None) -> list[tuple[Path, dict, dict]]:  # fmt: skip
    """INT8 forms of the unrolled and the per-step graph. Calibration: tile-sized crops of the photos in
    ``calibration``, each degraded with one of the 11 composite types in turn (the model's inputs), with its quality-head
    map and seeded tile noise; every 4th crop is held out. Gate: on the held-out crops the int8 graph's restored tile
    (the unrolled graph; the step graph through the DDIM loop) against the fp32 graph's: PSNR and the PIQE change
    (PIQE steered nothing in restoration training), refused beyond the limits."""
    from qualedge.export.int8 import (
        DEFAULT_MAX_NR_CHANGE,
        DEFAULT_MIN_PSNR,
        calibration_crops,
        gate_int8,
        quantize_int8,
    )
    from qualedge.export.onnx_export import stamp_onnx
    from qualedge.export.parity import ort_runner

    from qualedge.data.degradations.composite import TYPES, composite
    from qualedge.ddim import ddim_sample_steps
    from qualedge.iqa.head import load_quality_head
    from qualedge.noise import tile_noise

    head = load_quality_head()
    feeds = []
    for k, c in enumerate(calibration_crops(calibration, 3, crop=tile)):
        x = composite(np.ascontiguousarray(c[0].transpose(1, 2, 0)), TYPES[k % len(TYPES)], np.random.default_rng([seed, k]), 1.0)
        x = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)[None]
        with torch.no_grad():
            q = head.cell_map(torch.from_numpy(x)).numpy().astype(np.float32)
        noise = tile_noise(seed, k, 0, x.shape) if noise_scale != 0.0 else np.zeros_like(x)
        feeds.append({"x": x, "q": q, "noise": noise})
    calib, holdout = [f for i, f in enumerate(feeds) if i % 4 != 3], [f for i, f in enumerate(feeds) if i % 4 == 3]
    limits = {"min_psnr": DEFAULT_MIN_PSNR if min_psnr is None else min_psnr,
              "max_nr_change": DEFAULT_MAX_NR_CHANGE if max_nr_change is None else max_nr_change}  # fmt: skip
    run_u32, run_s32 = ort_runner(up), ort_runner(sp)

    def loop(run, f):
        return ddim_sample_steps(run, f["x"], f["q"], f["noise"], coefs)

    forms: list[tuple[Path, dict, dict]] = []
    for name, role, fp32, step in (("restore", "restore-unrolled", up, False), ("restore_step", "restore-step", sp, True)):
        out = tmp / f"{name}.int8.onnx"
        if step:  # the step graph sees the residual at every timestep the sampler uses
            cal = [{"x": f["x"], "r_t": f["noise"], "t": np.full((1,), float(c[0]), np.float32), "q": f["q"]} for f in calib for c in coefs]
        else:
            cal = calib
        info = quantize_int8(fp32, out, cal)
        stamp_onnx(out, onnx_metadata(name, role, desc.arch_id, "int8"))
        run8 = ort_runner(out)
        if step:
            pairs = [(loop(run_s32, f), loop(run8, f)) for f in holdout]
        else:
            pairs = [(run_u32(f["x"], f["q"], f["noise"]), run8(f["x"], f["q"], f["noise"])) for f in holdout]
        forms.append((out, gate_int8(pairs, nr_metric=True, label=f"{name} int8", **limits), info))
    return forms


__all__ = ["export_restore_bundle"]
