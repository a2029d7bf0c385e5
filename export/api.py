"""``export_bundle``: the public function behind ``qualedge export``.

Composition of small steps, per model: resolve the weights (pretrained id, weights file, or checkpoint with an
optional LoRA adapter merged in fp32) -> ``safetensors`` form (for the PyTorch backend) -> ONNX fp32 (dynamic H/W
for convolutional models, a fixed tile for window-attention models) -> onnxslim -> parity gate -> fp16 form with
fp32 fall-backs -> parity gate -> optional TensorRT plans. The bundle is assembled in a temporary folder next to the
destination and renamed into place only when every step passed, so a failed export leaves nothing that looks valid.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qualedge import paths
from qualedge._version import __version__
from qualedge.archs import ModelDescriptor, Tiling, get_arch
from qualedge.bundle import ABI_VERSION, Form, Manifest, ModelEntry, write_manifest
from qualedge.errors import ConfigError, ExportError, OutputError
from qualedge.weights.cache import sha256_file
from qualedge.weights.model_load import weights_metadata

PRECISIONS = ("fp32", "fp16", "int8")
EXAMPLE = paths.asset("images", "example.png")


@dataclass
class ModelSource:
    """Where one model of the bundle comes from: exactly one of ``pretrained``, ``weights`` or ``checkpoint``."""

    name: str = "sr"
    role: str = "sr"
    pretrained: str | None = None
    weights: str | None = None
    arch: str | None = None
    hparams: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    module: nn.Module | None = None  # an in-memory model (with arch/hparams), e.g. the quality head


def _example_inputs(in_channels: int) -> list[np.ndarray]:
    from qualedge.io import read_image

    if not EXAMPLE.is_file():  # the parity gate's real-photo input ships with the package: its absence is a broken install
        raise ExportError(f"the example photo {EXAMPLE} that the parity gate runs on is missing; reinstall qualedge")
    rgb = read_image(EXAMPLE).rgb
    if in_channels == 1:
        from qualedge.data.color import rgb_to_y

        rgb = rgb_to_y(rgb, matlab=False)[:, :, None]
    return [np.ascontiguousarray(rgb[:64, :64].transpose(2, 0, 1))[None]]


def resolve_model(src: ModelSource) -> tuple[nn.Module, ModelDescriptor, dict[str, Any]]:
    """Build the fp32 module with its weights, merging a LoRA adapter when the checkpoint has one."""
    given = [x for x in (src.pretrained, src.weights, src.checkpoint, src.module) if x is not None]
    if len(given) != 1:
        raise ConfigError(f"model {src.name}: give exactly one of pretrained, weights (+arch), checkpoint or module")
    info: dict[str, Any] = {}
    if src.pretrained or src.weights or src.checkpoint:
        from qualedge.weights.model_load import load_model

        source = src.pretrained or src.weights or src.checkpoint
        loaded = load_model(source, arch=src.arch, hparams=src.hparams or None)  # type: ignore[arg-type]
        model, desc, info = loaded.model, loaded.descriptor, dict(loaded.provenance)  # a merged LoRA: info["lora"]
        if src.weights:
            info["sha256"] = sha256_file(src.weights)
    else:
        if src.arch is None:
            raise ConfigError(f"model {src.name}: an in-memory module needs arch")
        model = src.module  # type: ignore[assignment]
        desc = get_arch(src.arch).descriptor(get_arch(src.arch).resolve(**src.hparams), model)
        info = {"module": type(model).__name__}
    return model.float().eval(), desc, info


def _io(name: str, channels: int) -> dict[str, Any]:
    return {"name": name, "layout": "NCHW", "dtype": "float32", "channels": channels, "range": [0.0, 1.0]}


def _export_forms(
    name: str,
    role: str,
    model: nn.Module,
    desc: ModelDescriptor,
    folder: Path,
    *,
    precisions: tuple[str, ...],
    tile: int | None,
    exporter: str,
    opset: int,
    out_channels: int,
    value_range: tuple[float, float] = (0.0, 1.0),
    int8: dict[str, Any] | None = None,
) -> list[Form]:
    from qualedge.export.clean import clean_onnx
    from qualedge.export.onnx_export import export_onnx, stamp_onnx
    from qualedge.export.parity import check_parity, ort_runner, parity_inputs
    from qualedge.export.precision import to_fp16

    from qualedge.bundle import onnx_metadata

    fixed = desc.tiling is Tiling.FIXED
    if fixed:
        size = tile or desc.size.fixed_tile or 64
        if size % desc.size.multiple_of:
            raise ConfigError(f"{name}: tile {size} must be a multiple of {desc.size.multiple_of} for {desc.arch_id}")
        shapes = {"dynamic": False, "tile": size}
        sizes, real = [size], [r for r in _example_inputs(desc.in_channels) if r.shape[-1] == size]
    else:
        size = desc.size.padded(64)
        shapes = {"dynamic": True, "min": desc.size.padded(16), "max": 4096, "multiple_of": desc.size.multiple_of}
        sizes = [desc.size.padded(24), desc.size.padded(40)]
        real = _example_inputs(desc.in_channels)
    inputs = parity_inputs(desc.in_channels, sizes, real)
    forms: list[Form] = []
    fp32 = folder / f"{name}.fp32.onnx"
    export_onnx(model, fp32, in_channels=desc.in_channels, example_size=size, dynamic=not fixed, min_size=shapes.get("min", size), opset=opset, exporter=exporter)
    slim = clean_onnx(fp32)
    stamp_onnx(fp32, onnx_metadata(name, role, desc.arch_id, "fp32"))
    report = check_parity(model, ort_runner(fp32), inputs, precision="fp32", value_range=value_range, label=f"{name} fp32")
    common = dict(format="onnx", opset=opset, inputs=[_io("x", desc.in_channels)], outputs=[_io("y", out_channels)], shapes=shapes)
    forms.append(Form(path=fp32.name, precision="fp32", sha256=sha256_file(fp32), parity=report, extra={"exporter": exporter, "slim": slim}, **common))
    if "fp16" in precisions:
        if not desc.supports_fp16:
            forms[-1].extra["fp16_skipped"] = f"{desc.arch_id} is not fp16-safe (descriptor); no fp16 form"
        else:
            fp16 = folder / f"{name}.fp16.onnx"
            calib = [a[0] for _, a in inputs]
            prec = to_fp16(fp32, fp16, fp32_modules=desc.fp32_layers, calibration=calib)
            stamp_onnx(fp16, onnx_metadata(name, role, desc.arch_id, "fp16"))
            report16 = check_parity(model, ort_runner(fp16), inputs, precision="fp16", label=f"{name} fp16")
            forms.append(
                Form(
                    path=fp16.name, precision="fp16", sha256=sha256_file(fp16), fp32_nodes=prec["fp32_nodes"], parity=report16,
                    extra={"fp32_modules": prec["fp32_modules"], "overflow_nodes": prec["overflow_nodes"]}, **common,
                )  # fmt: skip
            )
    if "int8" in precisions:
        forms.append(_int8_form(name, role, model, desc, folder, fp32, common, fixed=fixed, **(int8 or {})))
    return forms


def _int8_form(name: str, role: str, model: nn.Module, desc: ModelDescriptor, folder: Path, fp32: Path, common: dict[str, Any], *,
               fixed: bool, calibration: str | Path | None = None, min_psnr: float | None = None, max_nr_change: float | None = None) -> Form:  # fmt: skip
    """The int8 form: calibrated on the photos of ``calibration`` (every 4th crop held out for the gate with the
    example photo), checked against the fp32 model on real photos only (uniform noise is outside any calibration)."""
    from qualedge.export.int8 import (
        DEFAULT_MAX_NR_CHANGE,
        DEFAULT_MIN_PSNR,
        calibration_crops,
        check_int8,
        quantize_int8,
    )
    from qualedge.export.onnx_export import stamp_onnx
    from qualedge.export.parity import ort_runner

    from qualedge.bundle import onnx_metadata

    if calibration is None:
        raise ConfigError("the int8 form needs calibration photos: pass --calibration DIR (a folder of real photos)")
    if fixed:
        raise ConfigError(f"{name}: int8 is for convolutional models with dynamic shapes; {desc.arch_id} has a fixed tile")
    crops = calibration_crops(calibration, desc.in_channels)
    calib, holdout = [c for i, c in enumerate(crops) if i % 4 != 3], [c for i, c in enumerate(crops) if i % 4 == 3]
    holdout += [r for r in _example_inputs(desc.in_channels)]
    out = folder / f"{name}.int8.onnx"
    info = quantize_int8(fp32, out, calib)
    stamp_onnx(out, onnx_metadata(name, role, desc.arch_id, "int8"))
    report = check_int8(model, ort_runner(out), holdout, is_sr=role == "sr", label=f"{name} int8",
                        min_psnr=DEFAULT_MIN_PSNR if min_psnr is None else min_psnr,
                        max_nr_change=DEFAULT_MAX_NR_CHANGE if max_nr_change is None else max_nr_change)  # fmt: skip
    return Form(path=out.name, precision="int8", sha256=sha256_file(out), parity=report, extra={"quantization": info, "calibration": str(calibration)}, **common)


def _trt_forms(name: str, forms: list[Form], folder: Path, desc: ModelDescriptor, timing_cache: Path | None) -> list[Form]:
    from qualedge.export.trt import build_engine

    out = []
    for f in [f for f in forms if f.format == "onnx"]:
        if f.shapes.get("dynamic"):
            c = desc.in_channels
            mn, opt, mx = (1, c, 32, 32), (4, c, 256, 256), (8, c, 1024, 1024)
        else:
            t = f.shapes["tile"]
            mn = opt = mx = (1, desc.in_channels, t, t)
        plan = folder / f"{name}.{f.precision}.plan"
        meta = build_engine(folder / f.path, plan, input_name="x", min_shape=mn, opt_shape=opt, max_shape=mx, timing_cache=timing_cache, precision=f.precision)
        out.append(Form(path=plan.name, format="trt-plan", precision=f.precision, sha256=sha256_file(plan), inputs=f.inputs, outputs=f.outputs, shapes=f.shapes, extra=meta))
    return out


@contextlib.contextmanager
def staging_folder(out: str | Path, *, overwrite: bool) -> Iterator[Path]:
    """A temporary folder next to ``out`` that replaces ``out`` only when the block succeeds (else it is removed)."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    if not out.parent.exists():
        raise OutputError(f"output folder {out.parent} does not exist; create it first")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def qhead_entry(folder: Path, *, exporter: str = "dynamo", opset: int = 18) -> ModelEntry:
    """The quality head's dense cell map (N, 1, H/16, W/16) as the bundle's ``quality`` model ``qhead``."""
    from qualedge.iqa.head import DEFAULT_WEIGHTS, CellMap, load_quality_head

    desc_dict: dict[str, Any] = {"purpose": "IQA", "cell": 16, "in_channels": 3, "out_channels": 1, "weights_sha256": sha256_file(DEFAULT_WEIGHTS)}
    from qualedge.weights.load import save_state_dict

    head = load_quality_head()
    st = folder / "qhead.safetensors"  # for the PyTorch backend
    save_state_dict(st, head.state_dict(), metadata={"arch_id": "quality_head"})
    forms = [Form(path=st.name, format="safetensors", precision="fp32", sha256=sha256_file(st))]
    forms += _export_forms("qhead", "quality", CellMap(head), _qhead_descriptor(), folder, precisions=("fp32",), tile=None, exporter=exporter, opset=opset, out_channels=1)
    return ModelEntry("qhead", "quality", "quality_head", {}, desc_dict, forms, extra={"module": "qualedge quality head"})


def router_entry(folder: Path, weights: str | Path, *, exporter: str = "dynamo", opset: int = 18) -> ModelEntry:
    """The gain head (``qualedge train-router``) as the bundle's ``router`` model: per 8x8 LR cell, the predicted log10
    MSE between the heavy and the compact output (N, 1, H/8, W/8)."""
    from qualedge.archs import build_model
    from qualedge.weights.load import load_state_dict, save_state_dict
    from qualedge.weights.zoo import load_into

    weights = Path(weights)
    if not weights.is_file():
        raise ConfigError(f"router weights {weights} not found; train them with 'qualedge train-router' or export without a router")
    net, desc = build_model("gain_head")
    load_into(net, load_state_dict(weights), source=str(weights))
    net.eval()
    st = folder / "router.safetensors"
    save_state_dict(st, net.state_dict(), metadata={"arch_id": "gain_head"})
    forms = [Form(path=st.name, format="safetensors", precision="fp32", sha256=sha256_file(st))]
    forms += _export_forms("router", "router", net, desc, folder, precisions=("fp32",), tile=None, exporter=exporter, opset=opset, out_channels=1, value_range=(-7.0, 1.0))
    d = desc.to_dict()
    d["weights_sha256"] = sha256_file(weights)
    return ModelEntry("router", "router", "gain_head", dict(desc.hyperparameters), d, forms, extra={"module": "qualedge gain head"})


def export_bundle(
    out: str | Path,
    sources: list[ModelSource],
    *,
    precisions: tuple[str, ...] = ("fp32", "fp16"),
    quality_head: bool = True,
    tile: int | None = None,
    exporter: str = "dynamo",
    opset: int = 18,
    tensorrt: bool = False,
    timing_cache: str | Path | None = None,
    policy: dict[str, Any] | None = None,
    threshold: float = 0.5,
    router: str | Path | None = None,
    heavy_fraction: float | None = None,
    routing_tile: int | None = None,
    overlap: int = 16,
    overwrite: bool = False,
    calibration: str | Path | None = None,
    int8_min_psnr: float | None = None,
    int8_max_nr_change: float | None = None,
) -> Manifest:
    """Write a bundle folder at ``out``; see the module docstring. Returns its manifest."""
    for p in precisions:
        if p not in PRECISIONS:
            raise ConfigError(f"precision {p!r} is not supported; choose from {PRECISIONS}")
    if "fp32" not in precisions:
        raise ConfigError("the fp32 form is always exported (it is the fall-back for tiles whose fp16 output overflows)")
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"model names must be unique, got {names}")
    with staging_folder(out, overwrite=overwrite) as tmp:
        entries = []
        for src in sources:
            model, desc, info = resolve_model(src)
            from qualedge.weights.load import save_state_dict

            st = tmp / f"{src.name}.safetensors"
            save_state_dict(st, model.state_dict(), metadata=weights_metadata(desc))
            forms = [Form(path=st.name, format="safetensors", precision="fp32", sha256=sha256_file(st))]
            forms += _export_forms(src.name, src.role, model, desc, tmp, precisions=precisions, tile=tile, exporter=exporter, opset=opset,
                                   out_channels=desc.out_channels, int8={"calibration": calibration, "min_psnr": int8_min_psnr,
                                                                          "max_nr_change": int8_max_nr_change})  # fmt: skip
            if tensorrt:
                forms += _trt_forms(src.name, forms, tmp, desc, Path(timing_cache) if timing_cache else None)
            entries.append(ModelEntry(src.name, src.role, desc.arch_id, dict(desc.hyperparameters), desc.to_dict(), forms, extra=info))
        if quality_head and "qhead" not in names:
            entries.append(qhead_entry(tmp, exporter=exporter, opset=opset))
        if router is not None:
            entries.append(router_entry(tmp, router, exporter=exporter, opset=opset))
        manifest = Manifest(
            models=entries,
            policy=policy or default_policy(entries, threshold=threshold, heavy_fraction=heavy_fraction, tile=routing_tile, overlap=overlap),
            source={"sources": [e.name for e in entries], "exporter": exporter, "torch": torch.__version__},
            abi_version=ABI_VERSION,
            qualedge_version=__version__,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        )
        write_manifest(tmp, manifest)
    return manifest


def _qhead_descriptor() -> ModelDescriptor:
    """The registered quality_head architecture's descriptor (real parameter count)."""
    return get_arch("quality_head").descriptor(dict(get_arch("quality_head").defaults))


def default_policy(
    entries: list[ModelEntry], *, threshold: float = 0.5, heavy_fraction: float | None = None, tile: int | None = None, overlap: int = 16
) -> dict[str, Any]:
    """The runtime's defaults stored in the bundle (overridable at run time): routing by ``heavy_fraction`` (a budget)
    when given, else by the quality ``threshold``; the routing score is the router model's when the bundle has one,
    else the quality head's. ``tile`` fixes the tile plan (the routing granularity) instead of the automatic size."""
    sr = [e.name for e in entries if e.role == "sr"]
    routers = [e.name for e in entries if e.role == "router"]
    if heavy_fraction is not None:
        from qualedge.routing import check_fraction

        heavy_fraction = check_fraction(heavy_fraction)
    return {
        "quality_model": "qhead" if any(e.role == "quality" for e in entries) else None,
        "compact": sr[0] if sr else None,
        "heavy": sr[1] if len(sr) > 1 else None,
        "router": routers[0] if routers else "quality",
        "heavy_fraction": heavy_fraction,
        "seed": 0,
        "threshold": threshold,
        "tile": tile,
        "overlap": overlap,
        "precision": "fp32",
    }


__all__ = ["ModelSource", "export_bundle", "resolve_model", "default_policy", "router_entry", "ExportError"]
