"""The metric table and ``create_metric``: the only way to obtain a metric.

Built-in metrics (offline, no download): psnr, psnr_y, ssim, ssim_y, ssim_rgb, niqe, piqe, brisque, qhead.
Every pyiqa metric is available as ``pyiqa:<name>``; a bare pyiqa name (``musiq``) means the same when no built-in
has that id. Unknown ids raise with close matches; nothing is auto-corrected.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from qualedge import paths
from qualedge.errors import MetricError
from qualedge.iqa.pyiqa_table import PYIQA_METRICS
from qualedge.iqa.spec import MetricSpec

NIQE_URL = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/niqe_modelparameters.mat"


class _FR(nn.Module):
    def __init__(self, fn: Callable[..., torch.Tensor], **kw: Any) -> None:
        super().__init__()
        self.fn, self.kw = fn, kw

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.fn(x, ref, **self.kw).to(torch.float32)


def _psnr(color: str) -> Callable[..., nn.Module]:
    def make(crop_border: int = 0, quantize: bool = False) -> nn.Module:
        from qualedge.iqa.fr import psnr

        return _FR(psnr, color=color, crop_border=crop_border, quantize=quantize)

    return make


def _ssim(color: str) -> Callable[..., nn.Module]:
    def make(crop_border: int = 0, quantize: bool = False) -> nn.Module:
        from qualedge.iqa.fr import ssim

        return _FR(ssim, color=color, crop_border=crop_border, quantize=quantize)

    return make


def niqe_model_path() -> str:
    """The official LIVE NIQE pristine model: data folder, qualedge cache, pyiqa's cache, or a download."""
    from qualedge.weights.cache import WeightRef, resolve_weights

    roots = [r for r in (paths.shared_data_dir(), paths.cache_dir() / "sources") if r is not None]
    for r in roots:
        if (r / "iqa" / "niqe" / "modelparameters.mat").is_file():
            return str(r / "iqa" / "niqe" / "modelparameters.mat")
    from qualedge.iqa.pyiqa_backend import pyiqa_weights_dir

    ref = WeightRef(
        "niqe_modelparameters.mat",
        url=NIQE_URL,
        how_to_obtain=(
            "It is the official LIVE NIQE model (modelparameters.mat from live.ece.utexas.edu's niqe release); "
            f"{paths.cache_dir() / 'sources' / 'iqa' / 'niqe' / 'modelparameters.mat'} is also searched. Or fit your "
            "own with 'qualedge fit-niqe' and pass model_path."
        ),
    )
    return str(resolve_weights(ref, cache=pyiqa_weights_dir()))


def _niqe(model_path: str | None = None) -> nn.Module:
    from qualedge.iqa.niqe import NIQE, load_pristine_model

    mu, cov = load_pristine_model(model_path or niqe_model_path())
    return NIQE(mu=mu, cov=cov)


def _piqe() -> nn.Module:
    from qualedge.iqa.piqe import PIQE

    return PIQE()


def _brisque(model_path: str | None = None, range_path: str | None = None) -> nn.Module:
    from qualedge.iqa.brisque import BRISQUE

    return BRISQUE(model_path, range_path)


def _qhead(weights: str | None = None) -> nn.Module:
    from qualedge.iqa.head import load_quality_head

    return load_quality_head(weights)


def _b(id: str, mode: str, hib: bool, rng, diff: bool, weights: str, desc: str, **kw: Any) -> MetricSpec:
    return MetricSpec(
        id=id, mode=mode, higher_is_better=hib, score_range=rng, differentiable=diff, backend="builtin",  # type: ignore[arg-type]
        weights=weights, description=desc, **kw,
    )  # fmt: skip


BUILTIN_METRICS: tuple[MetricSpec, ...] = (
    _b("psnr", "FR", True, None, True, "none", "PSNR on RGB, dB", norm_range=(20.0, 40.0)),
    _b("psnr_y", "FR", True, None, True, "none", "PSNR on MATLAB rgb2ycbcr luma (SR papers' Y-PSNR)", norm_range=(20.0, 40.0)),
    _b("ssim", "FR", True, (0.0, 1.0), True, "none", "SSIM on rounded BT.601 grey (Wang et al.'s reference)"),
    _b("ssim_y", "FR", True, (0.0, 1.0), True, "none", "SSIM on MATLAB rgb2ycbcr luma (SR papers' Y-SSIM)"),
    _b("ssim_rgb", "FR", True, (0.0, 1.0), True, "none", "SSIM averaged over R, G, B"),
    _b(
        "niqe", "NR", False, (0.0, 100.0), False,
        "official LIVE pristine model (iqa/niqe/modelparameters.mat in the data folder, or downloaded)",
        "NIQE (Mittal et al. 2013), MATLAB-compatible", approximate_range=True, norm_range=(2.0, 20.0), min_size=96,
    ),
    _b("piqe", "NR", False, (0.0, 100.0), False, "none", "PIQE (Venkatanath et al. 2015), MATLAB-compatible", min_size=16),
    _b(
        "brisque", "NR", False, (0.0, 100.0), False,
        "OpenCV's BRISQUE SVR (iqa/brisque/*.yml in the data folder)", "BRISQUE with OpenCV's model, OpenCV-compatible",
        min_size=16,
    ),
    _b(
        "qhead", "NR", True, (0.0, 1.0), True, "qualedge/assets/weights/quality_head.safetensors (shipped)",
        "qualedge's learned quality head (distilled from NIQE+PIQE), dense map in one pass", min_size=16,
    ),
)  # fmt: skip

_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "psnr": _psnr("rgb"),
    "psnr_y": _psnr("y"),
    "ssim": _ssim("grey"),
    "ssim_y": _ssim("y"),
    "ssim_rgb": _ssim("rgb"),
    "niqe": _niqe,
    "piqe": _piqe,
    "brisque": _brisque,
    "qhead": _qhead,
}

METRICS: tuple[MetricSpec, ...] = BUILTIN_METRICS + PYIQA_METRICS


def _check_table() -> None:
    ids = [m.id for m in METRICS]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuntimeError(f"duplicate metric ids: {dupes}")
    missing = [m.id for m in BUILTIN_METRICS if m.id not in _FACTORIES]
    if missing:
        raise RuntimeError(f"built-in metrics without a factory: {missing}")


_check_table()


def list_metrics(mode: str | None = None, backend: str | None = None) -> list[str]:
    return [m.id for m in METRICS if (mode is None or m.mode == mode) and (backend is None or m.backend == backend)]


def get_spec(metric_id: str) -> MetricSpec:
    """The spec of ``metric_id`` (built-in id, ``pyiqa:<name>``, or a bare pyiqa name without a built-in twin)."""
    for m in METRICS:
        if m.id == metric_id:
            return m
    for m in PYIQA_METRICS:
        if m.id == f"pyiqa:{metric_id}":
            return m
    close = difflib.get_close_matches(metric_id, [m.id for m in METRICS] + [m.id[6:] for m in PYIQA_METRICS], n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise MetricError(
        f"unknown metric {metric_id!r}.{hint} Built-in: {', '.join(m.id for m in BUILTIN_METRICS)}; "
        "every pyiqa metric as pyiqa:<name> (qualedge.iqa.list_metrics())."
    )


class Metric(nn.Module):
    """A metric instance: ``metric(x)`` (NR) or ``metric(x, ref)`` (FR) -> raw scores (N,).

    Inputs are (N, 3, H, W) tensors in [0, 1]. Without ``as_loss`` scores are computed without gradients.
    :meth:`quality` returns scores normalised to [0, 1] with higher = better (``spec.normalize``).
    """

    def __init__(self, spec: MetricSpec, net: nn.Module, *, as_loss: bool, device: torch.device) -> None:
        super().__init__()
        self.spec, self.net, self.as_loss, self.device = spec, net, as_loss, device

    def _validate(self, x: torch.Tensor, ref: torch.Tensor | None) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] not in (1, 3):
            raise MetricError(f"{self.spec.id}: expected an (N, 3, H, W) tensor, got {getattr(x, 'shape', type(x))}")
        if min(x.shape[-2:]) < self.spec.min_size:
            raise MetricError(
                f"{self.spec.id}: images must be at least {self.spec.min_size}x{self.spec.min_size}, got "
                f"{tuple(x.shape[-2:])}. Use larger tiles or another metric."
            )
        lo, hi = self.spec.input_range
        with torch.no_grad():
            if x.min() < lo - 1e-3 or x.max() > hi + 1e-3:
                raise MetricError(
                    f"{self.spec.id}: input values must lie in [{lo}, {hi}], got [{float(x.min()):.3g}, {float(x.max()):.3g}]."
                )
        if self.spec.mode == "FR" and ref is None:
            raise MetricError(f"{self.spec.id} is a full-reference metric: pass the reference image too.")
        if self.spec.mode == "NR" and ref is not None:
            raise MetricError(f"{self.spec.id} is a no-reference metric: pass only the image.")

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        self._validate(x, ref)
        x = x.to(self.device)
        args = (x,) if ref is None else (x, ref.to(self.device))
        if self.as_loss:
            out = self.net(*args)
        else:
            with torch.inference_mode():
                out = self.net(*args)
        return out.reshape(-1)

    def quality(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        return self.spec.normalize(self(x, ref))


def create_metric(metric_id: str, *, device: str | torch.device = "cpu", as_loss: bool = False, **options: Any) -> Metric:
    """Build a metric by id.

    Args:
        metric_id: see :func:`list_metrics`.
        device: where the metric runs.
        as_loss: keep gradients (the metric must be differentiable).
        options: metric options (``crop_border`` for PSNR/SSIM, ``model_path`` for NIQE, pyiqa keyword arguments).

    Raises:
        MetricError: unknown id, not differentiable with ``as_loss``, weights unavailable.
        WeightsNotFoundError: a needed file is missing and cannot be downloaded (offline): names the file and where
            to put it.
    """
    spec = get_spec(metric_id)
    dev = torch.device(device)
    if as_loss and not spec.differentiable:
        raise MetricError(f"{spec.id} is not differentiable, so it cannot be used as a loss; choose e.g. qhead or a pyiqa deep metric.")
    if spec.backend == "builtin":
        try:
            net = _FACTORIES[spec.id](**options)
        except TypeError as exc:
            raise MetricError(f"{spec.id}: unsupported option ({exc}).") from exc
        net = net.to(dev).eval()
    else:
        from qualedge.iqa.pyiqa_backend import create_pyiqa

        net = create_pyiqa(spec.id[len("pyiqa:") :], device=dev, as_loss=as_loss, **options)
    return Metric(spec, net, as_loss=as_loss, device=dev)
