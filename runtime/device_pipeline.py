"""Device-resident tiled super-resolution: the image, the tiles, the model outputs and the blend stay on one device.

For GPUs, where the NumPy row pipeline of :class:`~qualedge.runtime.restorer.Restorer` would copy every tile
between host and device: upload once -> pad -> the same even tile plan -> batched inference in fp16/bf16 with
channels_last (optionally a ``torch.compile``d model; fixed tile shapes, so one compilation and CUDA-graph capture)
-> one fused blend over the whole output (the Triton kernel on CUDA; on the CPU the Triton interpreter or the
NumPy reference) -> download the uint8 image. Same tiling and blend contract as the row pipeline, so outputs match
it up to the model's precision.
"""

from __future__ import annotations

import numpy as np
import torch
from qualedge.runtime.blend.window import axis_map
from qualedge.runtime.tiling import plan_tiles
from torch import nn

BLENDS = ("triton", "numpy")


def restore_on_device(
    model: nn.Module,
    img: np.ndarray | torch.Tensor,
    *,
    scale: int,
    tile: int = 512,
    overlap: int = 16,
    batch: int = 4,
    multiple: int = 1,
    blend: str = "triton",
    device: str | torch.device = "cuda",
    dtype: torch.dtype = torch.float16,
) -> torch.Tensor:
    """Upscale an (H, W, 3) float image in [0, 1]; returns the (H*scale, W*scale, 3) uint8 result on ``device``.

    ``model`` must already be on ``device`` in ``dtype`` (and channels_last if wanted).
    """
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")
    x = torch.as_tensor(img).to(device)
    x = x.permute(2, 0, 1)[None].to(dtype)
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        x = torch.nn.functional.pad(x.float(), (0, pw, 0, ph), mode="reflect").to(dtype)
    H, W = x.shape[-2:]
    plan = plan_tiles(H, W, tile, min(overlap, tile // 4), multiple_of=multiple)
    th, tw = plan.rows.tile, plan.cols.tile
    boxes = plan.boxes()
    crops = torch.stack([x[0, :, y0:y1, x0:x1] for y0, x0, y1, x1 in boxes]).contiguous(memory_format=torch.channels_last)
    outs = torch.empty((len(boxes), 3, th * scale, tw * scale), dtype=torch.float32, device=x.device)
    with torch.inference_mode():
        for b in range(0, len(boxes), batch):
            outs[b : b + batch] = model(crops[b : b + batch]).float()
    tiles = outs.view(plan.rows.count, plan.cols.count, 3, th * scale, tw * scale)
    rows = axis_map(plan.rows.starts, th, H, scale=scale)
    cols = axis_map(plan.cols.starts, tw, W, scale=scale)
    if blend == "triton":
        from qualedge.runtime.blend.triton_kernel import blend_triton

        out = blend_triton(tiles, rows, cols)
    else:
        from qualedge.runtime.blend.reference import blend_reference

        out = torch.from_numpy(blend_reference(tiles.cpu().numpy(), rows, cols)).to(x.device)
    return out[: h * scale, : w * scale]


__all__ = ["restore_on_device", "BLENDS"]
