"""``qualedge make-multigt``: candidate ground truths for any folder of images, in HGGT's layout.

For each image (cropped to a multiple of 4): ``original``, and enhanced versions from real operators:
  01  a real SR model (converted Real-ESRGAN weights) applied to a MATLAB-bicubic 1/4 copy: a plausible re-synthesis
      with generated texture;
  02  unsharp masking (Gaussian sigma 1.5, amount 0.8);
  03  OpenCV detail enhancement (edge-aware local contrast);
  04  non-local-means denoising (OpenCV, h = 5): smoother, less noise.
Human labels are optional (``--labels FILE.json``: ``{"<name>": {"01": ["Positive", "Similar", "Positive"], ...}}``,
one vote per annotator, or a single label string) and are written as HGGT's per-annotator JSON files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from qualedge.errors import ConfigError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image, write_image

OPERATORS = ("01", "02", "03", "04")
DESCRIPTIONS = {"01": "real SR model on a 1/4 copy", "02": "unsharp mask", "03": "detail enhancement", "04": "non-local-means denoising"}


def _sr_operator(model_id: str) -> Callable[[np.ndarray], np.ndarray]:
    from qualedge.data.resize import imresize
    from qualedge.weights.zoo import load_pretrained

    model, desc = load_pretrained(model_id)
    s = desc.scale

    def op(img: np.ndarray) -> np.ndarray:
        lr = np.clip(imresize(img, 1.0 / s), 0, 1).astype(np.float32)
        with torch.inference_mode():
            y = model(torch.from_numpy(lr.transpose(2, 0, 1))[None]).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
        return np.ascontiguousarray(y[: img.shape[0], : img.shape[1]])

    return op


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def unsharp(img: np.ndarray) -> np.ndarray:
    import cv2

    return np.clip(img + 0.8 * (img - cv2.GaussianBlur(img, (0, 0), 1.5)), 0, 1)


def detail(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.detailEnhance(_u8(img)[:, :, ::-1], sigma_s=10, sigma_r=0.15)[:, :, ::-1].astype(np.float32) / 255.0


def denoise(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.fastNlMeansDenoisingColored(_u8(img)[:, :, ::-1], None, 5, 5, 7, 21)[:, :, ::-1].astype(np.float32) / 255.0


def make_multigt(src: str | Path, out: str | Path, *, sr_model: str = "realesr-animevideov3", labels: str | Path | None = None, part: str = "0", max_images: int = 0, progress: bool = True) -> int:
    """Write the groups; returns how many. Existing groups are kept (re-runs complete an interrupted run)."""
    from tqdm import tqdm

    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ConfigError(f"{src} is not a folder of images")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    if max_images:
        files = files[:max_images]
    if not files:
        raise ConfigError(f"{src} holds no images")
    votes: dict = json.loads(Path(labels).read_text()) if labels else {}
    ops: dict[str, Callable[[np.ndarray], np.ndarray]] = {"01": _sr_operator(sr_model), "02": unsharp, "03": detail, "04": denoise}
    base = out / "images" / part
    for f in tqdm(files, desc="make-multigt", unit="img", disable=not progress):
        name = f.stem
        if (base / "04" / f"{name}_04.png").is_file() and (base / "original" / f"{name}.png").is_file():
            continue
        img = read_image(f).rgb
        h, w = img.shape[0] // 4 * 4, img.shape[1] // 4 * 4
        if min(h, w) < 16:
            continue
        img = np.ascontiguousarray(img[:h, :w])
        (base / "original").mkdir(parents=True, exist_ok=True)
        write_image(base / "original" / f"{name}.png", img)
        for k, op in ops.items():
            (base / k).mkdir(parents=True, exist_ok=True)
            write_image(base / k / f"{name}_{k}.png", np.clip(op(img), 0, 1).astype(np.float32))
        if name in votes:
            per = votes[name]
            n_annot = max(len(v) if isinstance(v, list) else 1 for v in per.values())
            for a in range(n_annot):
                d = out / "labels" / part / "ABCDEFGH"[a]
                d.mkdir(parents=True, exist_ok=True)
                entry = {"Picture_1": {"Name": f"{name}.png", "File": "original", "Label": None}}
                for i, k in enumerate(OPERATORS, start=2):
                    v = per.get(k, "Similar")
                    entry[f"Picture_{i}"] = {"Name": f"{name}_{k}.png", "File": k, "Label": v[a] if isinstance(v, list) else v}
                from qualedge.atomic import atomic_write_json

                atomic_write_json(d / f"{name}.json", entry)
    (out / "README.md").write_text("Candidate GTs written by qualedge make-multigt: " + "; ".join(f"{k}: {v}" for k, v in DESCRIPTIONS.items()) + f" (SR model {sr_model}).\n")
    return len(files)
