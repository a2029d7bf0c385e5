"""Converters from foreign weight formats into state dicts of registered architectures.

- ncnn (``.param``/``.bin``): weighted layers are matched, in graph order, to the module's weighted leaf modules
  (Conv2d, ConvTranspose2d, PReLU, Linear) in registration order, with every shape checked. This covers RRDBNet
  (Real-ESRGAN x4plus), SRVGGNetCompact (animevideov3) and waifu2x UpConv7. ncnn stores transposed-convolution
  kernels as (out, in, kh, kw); PyTorch wants (in, out, kh, kw), checked against waifu2x output quality.
- TensorFlow frozen GraphDef: the ``f{i}``/``b{i}``/``alpha{i}`` constants of OpenCV's dnn_superres ESPCN and
  FSRCNN graphs, with HWIO kernels transposed to OIHW.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge.errors import WeightsError
from qualedge.weights.ncnn import NcnnLayer, load_ncnn
from qualedge.weights.tf_graphdef import read_graphdef

_WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.PReLU, nn.Linear)


def _weighted_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, _WEIGHTED)]


def _put(sd: dict[str, torch.Tensor], key: str, value: np.ndarray, expected: torch.Size, where: str) -> None:
    t = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    if t.numel() != int(np.prod(expected)):
        raise WeightsError(f"{where}: {key} has {t.numel()} values but the architecture needs shape {tuple(expected)}")
    sd[key] = t.reshape(expected)


def ncnn_layers_to_state_dict(layers: list[NcnnLayer], model: nn.Module, *, source: str = "ncnn") -> dict[str, torch.Tensor]:
    """Map ncnn layers with weights onto ``model``'s weighted modules, in order."""
    weighted = [layer for layer in layers if layer.weights]
    targets = _weighted_modules(model)
    if len(weighted) != len(targets):
        raise WeightsError(
            f"{source}: {len(weighted)} weighted ncnn layers but the architecture has {len(targets)} weighted modules; "
            "this model file belongs to another architecture or configuration."
        )
    sd: dict[str, torch.Tensor] = {}
    for layer, (name, mod) in zip(weighted, targets):
        where = f"{source} layer {layer.name} ({layer.type}) -> {name}"
        if isinstance(mod, nn.PReLU):
            if layer.type != "PReLU":
                raise WeightsError(f"{where}: expected a PReLU layer")
            _put(sd, f"{name}.weight", layer.weights["slope"], mod.weight.shape, where)
            continue
        w = layer.weights["weight"]
        if isinstance(mod, nn.ConvTranspose2d):
            if layer.type != "Deconvolution":
                raise WeightsError(f"{where}: expected a Deconvolution layer")
            w = w.transpose(1, 0, 2, 3)
        elif layer.type not in ("Convolution", "InnerProduct"):
            raise WeightsError(f"{where}: layer type does not fit {type(mod).__name__}")
        if tuple(w.shape) != tuple(mod.weight.shape) and w.size != mod.weight.numel():
            raise WeightsError(f"{where}: weight shape {w.shape} does not fit {tuple(mod.weight.shape)}")
        _put(sd, f"{name}.weight", w, mod.weight.shape, where)
        if mod.bias is not None:
            if "bias" not in layer.weights:
                raise WeightsError(f"{where}: the ncnn layer has no bias but the module needs one")
            _put(sd, f"{name}.bias", layer.weights["bias"], mod.bias.shape, where)
    return sd


def convert_ncnn(param_path: str | Path, bin_path: str | Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """Read an ncnn model and return a state dict for ``model`` (which must be the matching architecture)."""
    return ncnn_layers_to_state_dict(load_ncnn(param_path, bin_path), model, source=str(param_path))


def _consts(path: str | Path) -> dict[str, np.ndarray]:
    return {n.name: n.value for n in read_graphdef(path) if n.op == "Const" and n.value is not None}


def _hwio(k: np.ndarray) -> np.ndarray:
    return k.transpose(3, 2, 0, 1)


def convert_tf_espcn(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """OpenCV dnn_superres ESPCN graph -> (state dict, hyperparameters) for the ``espcn`` architecture."""
    c = _consts(path)
    if not all(f"f{i}" in c for i in (1, 2, 3)) or "f4" in c:
        raise WeightsError(f"{path}: not an ESPCN graph (expected constants f1..f3, b1..b3; found {sorted(c)[:10]})")
    f1, f3 = c["f1"], c["f3"]
    ch = f1.shape[2]
    scale = int(round((f3.shape[3] / ch) ** 0.5))
    sd = {}
    for i in (1, 2, 3):
        sd[f"conv{i}.weight"] = torch.from_numpy(_hwio(c[f"f{i}"]).copy())
        sd[f"conv{i}.bias"] = torch.from_numpy(c[f"b{i}"].copy())
    hp = dict(scale=scale, num_channels=ch, feats=(f1.shape[3], c["f2"].shape[3]), act="relu", out_act="tanh")
    return sd, hp


def convert_tf_fsrcnn(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """OpenCV dnn_superres FSRCNN graph -> (state dict, hyperparameters) for the ``fsrcnn`` architecture.

    The graph applies the last bias after depth-to-space (one value); it equals a per-channel bias repeated r^2 times.
    """
    c = _consts(path)
    n = max((int(k[1:]) for k in c if k.startswith("f") and k[1:].isdigit()), default=0)
    if n < 4 or "alpha1" not in c:
        raise WeightsError(f"{path}: not an FSRCNN graph (expected constants f1..fN with PReLU alphas)")
    ch = c["f1"].shape[2]
    d, s = c["f1"].shape[3], c["f2"].shape[3]
    scale = int(round((c[f"f{n}"].shape[3] / ch) ** 0.5))
    sd: dict[str, torch.Tensor] = {}
    idx = 0
    for i in range(1, n):  # conv + PReLU pairs in body
        sd[f"body.{idx}.weight"] = torch.from_numpy(_hwio(c[f"f{i}"]).copy())
        sd[f"body.{idx}.bias"] = torch.from_numpy(c[f"b{i}"].copy())
        sd[f"body.{idx + 1}.weight"] = torch.from_numpy(c[f"alpha{i}"].copy())
        idx += 2
    sd["last.0.weight"] = torch.from_numpy(_hwio(c[f"f{n}"]).copy())
    sd["last.0.bias"] = torch.from_numpy(np.repeat(c[f"b{n}"], scale * scale // c[f"b{n}"].size).astype(np.float32))
    hp = dict(scale=scale, num_channels=ch, d=d, s=s, m=n - 4, upsampler="pixelshuffle")
    return sd, hp
