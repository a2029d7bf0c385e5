"""``qualedge eval-sr``: the paper's evaluation table for SR models.

Columns: PSNR and SSIM (Y channel, ``scale`` border cropped, outputs quantised), LPIPS, LPIPS-ST, DISTS (full
reference), MUSIQ, NIMA, Q-Align, TOPIQ (no reference) through pyiqa, each computed where its weights exist and
marked unavailable otherwise (offline they are), plus the offline NR metrics NIQE, PIQE and the quality head.
Full-reference metrics are averaged over a group's Positive ground truths when the test set has human labels (HGGT
protocol), else computed against the original HR image.

Models: pretrained ids, checkpoint folders (a LoRA adapter is merged in memory), weights files, or ``bicubic``.
Test sets: ``--lr DIR --hr DIR`` (files paired by sorted order; LR x ``scale`` must match HR up to a mod crop) or an
HGGT-layout root (LR made from the original by MATLAB bicubic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qualedge.errors import ConfigError, MetricError, WeightsError, WeightsNotFoundError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image

PAPER_FR = ("pyiqa:lpips", "pyiqa:stlpips", "pyiqa:dists")
PAPER_NR = ("pyiqa:musiq", "pyiqa:nima", "pyiqa:qalign", "pyiqa:topiq_nr")
OFFLINE_NR = ("niqe", "piqe", "qhead")
NR_TILE_LIMIT = 1024  # NR metrics score at most this many pixels per side (centre crop) to bound memory


@dataclass
class TestItem:
    name: str
    lr: np.ndarray
    gts: list[np.ndarray]  # Positive GTs (or [original])


def load_pairs(lr_dir: str | Path, hr_dir: str | Path, scale: int) -> list[TestItem]:
    lr_files = sorted(p for p in Path(lr_dir).iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    hr_files = sorted(p for p in Path(hr_dir).iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    if len(lr_files) != len(hr_files) or not lr_files:
        raise ConfigError(f"{lr_dir} and {hr_dir} must hold the same, non-zero number of images ({len(lr_files)} vs {len(hr_files)})")
    items = []
    for lf, hf in zip(lr_files, hr_files):
        lr, hr = read_image(lf).rgb, read_image(hf).rgb
        h, w = lr.shape[0] * scale, lr.shape[1] * scale
        if hr.shape[0] < h or hr.shape[1] < w:
            raise ConfigError(f"{hf} ({hr.shape[1]}x{hr.shape[0]}) is smaller than {lf} x{scale}")
        items.append(TestItem(lf.stem, lr, [np.ascontiguousarray(hr[:h, :w])]))
    return items


def load_multigt(root: str | Path, scale: int) -> list[TestItem]:
    from qualedge.data.blind import bicubic_degrade
    from qualedge.iqa.agreement.data import load_hggt

    items = []
    for g in load_hggt(root):
        orig = read_image(g.original).rgb
        h, w = orig.shape[0] // scale * scale, orig.shape[1] // scale * scale
        pos = [read_image(g.candidates[k]).rgb[:h, :w] for k in sorted(g.candidates) if g.label(k) == "Positive"]
        items.append(TestItem(g.name, bicubic_degrade(orig[:h, :w], scale), pos or [orig[:h, :w]]))
    return items


def load_model(source: str) -> tuple[Any, int]:
    """(callable (N,3,h,w)->(N,3,sh,sw), scale) for a model source: ``bicubic[xS]`` or anything
    :func:`qualedge.weights.model_load.load_model` loads."""
    if source.startswith("bicubic"):
        scale = int(source.split("x")[1]) if "x" in source else 4
        from qualedge.data.resize import imresize_torch

        return (lambda x: imresize_torch(x, scale).clamp(0, 1)), scale
    from qualedge.weights.model_load import load_model as load_any

    loaded = load_any(source)
    return loaded.model, loaded.descriptor.scale


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]


def _centre(x: torch.Tensor, limit: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ch, cw = min(h, limit), min(w, limit)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return x[..., y0 : y0 + ch, x0 : x0 + cw]


def evaluate(models: list[str], items: list[TestItem], *, scale: int, metrics: tuple[str, ...] | None = None, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from qualedge.iqa.metrics import create_metric, get_spec

    wanted = metrics or ("psnr_y", "ssim_y", *PAPER_FR, *PAPER_NR, *OFFLINE_NR)
    created, unavailable = {}, {}
    for mid in wanted:
        spec = get_spec(mid)
        try:
            opts = {"crop_border": scale, "quantize": True} if spec.id in ("psnr_y", "ssim_y", "psnr", "ssim", "ssim_rgb") else {}
            created[spec.id] = create_metric(spec.id, **opts)
        except (MetricError, WeightsNotFoundError, WeightsError, OSError) as exc:
            unavailable[spec.id] = str(exc).splitlines()[0][:200]
    rows: dict[str, Any] = {}
    per_image: dict[str, dict[str, list[float | None]]] = {}
    for src in models:
        model, s = load_model(src)
        if s != scale:
            raise ConfigError(f"model {src} upscales x{s}, the test set is x{scale}")
        sums: dict[str, list[float]] = {m: [] for m in created}  # per image, in item order (NaN where a metric could not score it)
        for it in tqdm(items, desc=src, unit="img", disable=not progress, leave=False):
            with torch.inference_mode():
                sr = model(_t(it.lr)).clamp(0, 1)
            sr = torch.floor(sr * 255 + 0.5) / 255
            for mid, m in created.items():
                if m.spec.mode == "FR":
                    vals = [float(m(sr[..., : g.shape[0], : g.shape[1]], _t(g))[0]) for g in it.gts]
                    sums[mid].append(float(np.mean(vals)))
                else:
                    sums[mid].append(float(m(_centre(sr, NR_TILE_LIMIT))[0]))
        rows[src] = {mid: _nanmean(v) for mid, v in sums.items()}
        per_image[src] = {mid: [None if math.isnan(x) else x for x in v] for mid, v in sums.items()}
    directions = {mid: get_spec(mid).higher_is_better for mid in list(created) + list(unavailable)}
    return {"scale": scale, "images": len(items), "metrics": list(created), "unavailable": unavailable, "higher_is_better": directions, "rows": rows,
            "image_names": [it.name for it in items], "per_image": per_image}  # fmt: skip


def _nanmean(v: list[float]) -> float:
    ok = [x for x in v if not math.isnan(x)]
    return float(np.mean(ok)) if ok else float("nan")


def markdown(res: dict[str, Any], title: str = "") -> str:
    cols = [*res["metrics"], *res["unavailable"]]
    arrow = {m: "↑" if res["higher_is_better"][m] else "↓" for m in cols}
    lines = [f"### {title}" if title else "", "", "| model | " + " | ".join(f"{c.replace('pyiqa:', '')} {arrow[c]}" for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for model, vals in res["rows"].items():
        cells = [f"{vals[c]:.4f}" if c in vals and vals[c] == vals[c] else ("n/a" if c in res["unavailable"] else "-") for c in cols]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    if res["unavailable"]:
        lines += ["", "n/a: unavailable here (" + "; ".join(f"{k}: {v[:90]}" for k, v in list(res["unavailable"].items())[:3]) + (" ..." if len(res["unavailable"]) > 3 else "") + ")"]
    lines.append(f"\n{res['images']} images, x{res['scale']}; PSNR/SSIM on the Y channel with a {res['scale']}-pixel border cropped.")
    return "\n".join(lines)
