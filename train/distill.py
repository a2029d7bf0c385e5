"""``qualedge make-distill``: teacher pairs for distilling a fast SR model from a heavy one.

Random crops of the photos are degraded (blind Real-ESRGAN-style by default, seeded), and the teacher (a pretrained
SR model, realesrgan-x4plus by default) upscales each LR crop; ``<out>/lr/`` and ``<out>/hr/`` then train a student
with ``qualedge train-sr --set data.paired_roots=["<out>"]``. Existing pairs are kept, so a re-run completes an
interrupted one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qualedge.errors import ConfigError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image, write_image


def make_distill(src: str | Path, out: str | Path, *, teacher: str = "realesrgan-x4plus", count: int = 256, lr_size: int = 48, degradation: str = "blind", seed: int = 0, progress: bool = True, device: str = "cpu") -> int:
    """Write ``count`` (LR, teacher(LR)) pairs; the teacher runs on ``device`` ("cpu", "cuda" or "auto")."""
    from tqdm import tqdm

    from qualedge.data.blind import bicubic_degrade, blind_degrade
    from qualedge.weights.zoo import load_pretrained

    files = sorted(p for p in Path(src).iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS) if Path(src).is_dir() else []
    if not files:
        raise ConfigError(f"{src}: no images to distil from")
    model, desc = load_pretrained(teacher)
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
    model = model.to(dev).eval()
    s = desc.scale
    out = Path(out)
    (out / "lr").mkdir(parents=True, exist_ok=True)
    (out / "hr").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images: dict[Path, np.ndarray] = {}
    for i in tqdm(range(count), desc=f"distil {teacher}", unit="pair", disable=not progress):
        f = files[int(rng.integers(len(files)))]
        sample_seed = int(rng.integers(2**31))
        name = f"{i:05d}.png"
        if (out / "hr" / name).is_file() and (out / "lr" / name).is_file():
            continue
        img = images.setdefault(f, read_image(f).rgb)
        hs = lr_size * s
        if min(img.shape[:2]) < hs:
            continue
        r = np.random.default_rng(sample_seed)
        y, x = int(r.integers(0, img.shape[0] - hs + 1)), int(r.integers(0, img.shape[1] - hs + 1))
        crop = img[y : y + hs, x : x + hs]
        lr = blind_degrade(crop, s, r) if degradation == "blind" else bicubic_degrade(crop, s)
        lr = (np.floor(lr * 255 + 0.5) / 255).astype(np.float32)
        with torch.inference_mode():
            hr = model(torch.from_numpy(lr.transpose(2, 0, 1).copy())[None].to(dev)).clamp(0, 1)[0].float().cpu().numpy().transpose(1, 2, 0)
        write_image(out / "lr" / name, lr)
        write_image(out / "hr" / name, np.ascontiguousarray(hr))
    (out / "README.md").write_text(f"Distillation pairs: LR = {degradation} degradation of photo crops from {src}; HR = {teacher}(LR). Seed {seed}.\n")
    return len(list((out / "hr").glob("*.png")))
