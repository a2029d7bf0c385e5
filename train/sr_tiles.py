"""Super-resolved tiles of real photos: the shared data of the router (``train-router``) and the quality head
(``train-qhead``, its SR families).

For each photo, ``crops`` random HR crops of ``4 * lr`` pixels; the LR crop is the HR crop downscaled x4 by area
averaging (cv2.INTER_AREA, how a camera bins pixels; no bicubic kernel the models could have learned); then the LR crop
is super-resolved by each named model (``bicubic`` or a pretrained id of the zoo: the compact and the heavy model of
the default bundle, ``espcn-x4`` ...), one crop at a time, exactly as the runtime runs one tile (no context).

The result is cached as an ``.npz`` keyed by the photo list, the settings and the model ids, so that a killed run
restarts from the last saved chunk and a second command reuses the SR outputs (the heavy model costs about a second
per 64x64 crop on one CPU thread).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qualedge.errors import ConfigError, TrainingError


@dataclass
class SRTiles:
    """hr: (N, 4t, 4t, 3) uint8; lr: (N, t, t, 3) uint8; sr: model id -> (N, 4t, 4t, 3) uint8; photo: (N,) index into
    ``files``."""

    hr: np.ndarray
    lr: np.ndarray
    sr: dict[str, np.ndarray]
    photo: np.ndarray
    files: list[str]


def area_downscale(img: np.ndarray, scale: int = 4) -> np.ndarray:
    """HxWx3 float in [0, 1] -> (H/scale)x(W/scale)x3 by area averaging (H, W multiples of ``scale``)."""
    import cv2

    h, w = img.shape[:2]
    return cv2.resize(img, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def _q8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


class SRModels:
    """The SR models by id, run on batches of HxWx3 uint8 LR crops (``bicubic`` is the reference resize)."""

    def __init__(self, ids: tuple[str, ...], threads: int | None = None) -> None:
        import torch

        from qualedge.weights.zoo import load_pretrained

        if threads:
            torch.set_num_threads(threads)
        self.ids = ids
        self.nets = {}
        for mid in ids:
            if mid != "bicubic":
                net, desc = load_pretrained(mid)
                if desc.scale != 4:
                    raise ConfigError(f"SR model {mid} is x{desc.scale}; the SR tiles are x4")
                self.nets[mid] = (net, desc.in_channels)

    def run(self, mid: str, lr: np.ndarray) -> np.ndarray:
        """(N, t, t, 3) uint8 -> (N, 4t, 4t, 3) uint8."""
        import torch

        from qualedge.data.color import rgb_to_ycbcr_full, ycbcr_full_to_rgb
        from qualedge.data.resize import imresize

        x = lr.astype(np.float32) / 255.0
        if mid == "bicubic":
            return np.stack([_q8(imresize(im, 4)) for im in x])
        net, cin = self.nets[mid]
        with torch.inference_mode():
            if cin == 3:
                y = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
                return _q8(y)
            outs = []
            for im in x:  # luma models (ESPCN): Y through the net, chroma bicubic
                ycc = rgb_to_ycbcr_full(im)
                yy = net(torch.from_numpy(ycc[None, None, :, :, 0].copy())).numpy()[0, 0]
                cbcr = imresize(ycc[:, :, 1:], 4)
                outs.append(_q8(ycbcr_full_to_rgb(np.concatenate([np.clip(yy, 0, 1)[:, :, None], cbcr], 2))))
            return np.stack(outs)


def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def make_sr_tiles(
    files: list[Path], cache: Path, *, lr: int = 64, crops: int = 2, models: tuple[str, ...] = ("bicubic",), seed: int = 0,
    threads: int | None = None, chunk: int = 32, log=print,
) -> SRTiles:  # fmt: skip
    """Crops and SR outputs of ``files`` (see the module docstring), cached in the folder ``cache``: one file
    ``sr_<model>.npz`` per model, keyed by the crops, so commands that need other models share the ones they have in
    common."""
    from qualedge.atomic import atomic_write_bytes
    from qualedge.io import read_image

    key = hashlib.sha256(json.dumps([[str(f) for f in files], lr, crops, seed]).encode()).hexdigest()[:16]
    rng = np.random.default_rng(seed)
    hr_side = 4 * lr
    hrs, photo = [], []
    for i, f in enumerate(files):
        img = read_image(f).rgb
        h, w = img.shape[:2]
        if min(h, w) < hr_side:
            continue
        for _ in range(crops):
            y, x = int(rng.integers(0, h - hr_side + 1)), int(rng.integers(0, w - hr_side + 1))
            hrs.append(_q8(img[y : y + hr_side, x : x + hr_side]))
            photo.append(i)
    if not hrs:
        raise TrainingError(f"no photo of at least {hr_side}x{hr_side} pixels among {len(files)} files")
    hr = np.stack(hrs)
    lrs = np.stack([_q8(area_downscale(t.astype(np.float32) / 255.0)) for t in hr])
    cache.mkdir(parents=True, exist_ok=True)
    out: dict[str, np.ndarray] = {}
    nets = None
    for m in models:
        path = cache / f"sr_{m}.npz"
        start, arr = 0, None
        if path.is_file():
            d = np.load(path)
            if str(d["key"]) == key:
                start, arr = int(d["done"]), d["sr"]
                if start < len(hr):
                    log(f"SR tiles: {m} resumes from {path} at crop {start}/{len(hr)}")
        if arr is None:
            arr = np.zeros((len(hr), hr_side, hr_side, 3), np.uint8)
        if start < len(hr):
            from tqdm import tqdm

            nets = nets or SRModels(models, threads)
            for c0 in tqdm(range(start, len(hr), chunk), desc=f"SR tiles ({m})", unit="chunk"):
                sl = slice(c0, min(c0 + chunk, len(hr)))
                arr[sl] = np.concatenate([nets.run(m, lrs[j : min(j + 4, sl.stop)]) for j in range(sl.start, sl.stop, 4)])
                atomic_write_bytes(path, _npz_bytes(key=key, done=sl.stop, sr=arr))
        out[m] = arr
    return SRTiles(hr, lrs, out, np.asarray(photo), [str(f) for f in files])
