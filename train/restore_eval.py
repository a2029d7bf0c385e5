"""``qualedge eval-restore``: AdaQual-Diff evaluation per degradation type, like the paper's CDD-11 table.

Test sets:
- synthetic (default): held-out clean photos (a folder not used in training), each degraded with every requested
  CDD-11 type by the same physically motivated models as training, seeded by (seed, image index, type index), so
  every model sees identical inputs; images are centre-cropped to ``crop`` (a multiple of 16; 0: whole images,
  reflect-padded to a multiple of 16 and cropped back);
- paired: a published layout (cdd11, allweather, outdoor_rain, snow100k, raindrop) at a user path.
Columns: PSNR and SSIM on RGB and on Y (MATLAB rgb2ycbcr luma, as restoration papers report), outputs quantised to
8 bits, and the blockiness of the output (qualedge.iqa.blockiness: luma steps on the 16-pixel grid against
elsewhere; about 1 without grid artefacts); the "input" row is the degraded image
itself, so gains read directly. Models: ``name=path`` with path a train-restore run or checkpoint folder, an
adaqual_unet weights file, or a restoration bundle (run through the tiled runtime, as deployed).
The quality map comes from the quality head on the degraded image; the initial noise is seeded per image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qualedge.data.degradations.composite import TYPES
from qualedge.errors import ConfigError
from qualedge.io import read_image

COLUMNS = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y", "blockiness")


@dataclass
class EvalItem:
    name: str
    kind: str
    degraded: np.ndarray  # (H, W, 3) float32 in [0, 1]
    clean: np.ndarray


def synthetic_items(folder: str | Path, *, types: Sequence[str] = TYPES, crop: int = 256, seed: int = 1234, strength: float = 1.0, limit: int | None = None) -> list[EvalItem]:
    from qualedge.train.restore_data import _images

    from qualedge.data.degradations.composite import composite

    unknown = set(types) - set(TYPES)
    if unknown:
        raise ConfigError(f"types: unknown {sorted(unknown)}; choose from {TYPES}")
    if crop % 16:
        raise ConfigError(f"crop {crop} must be a multiple of 16 (or 0 for whole images)")
    paths = _images(Path(folder))[:limit]
    if not paths:
        raise ConfigError(f"{folder}: no images to evaluate on")
    items = []
    for i, p in enumerate(paths):
        rgb = read_image(p).rgb
        if crop:
            h, w = rgb.shape[:2]
            if min(h, w) < crop:
                raise ConfigError(f"{p} is {w}x{h}, smaller than crop {crop}; pass a smaller --crop or 0")
            y0, x0 = (h - crop) // 2, (w - crop) // 2
            rgb = np.ascontiguousarray(rgb[y0 : y0 + crop, x0 : x0 + crop])
        for t in types:
            rng = np.random.default_rng([seed, i, TYPES.index(t)])
            items.append(EvalItem(p.stem, t, composite(rgb, t, rng, strength), rgb))
    return items


def paired_items(layout: str, root: str | Path, split: str = "test", limit: int | None = None) -> list[EvalItem]:
    from qualedge.train.restore_data import load_pairs

    items = []
    for d, c, kind in load_pairs(layout, root, split)[:limit]:
        dg, cl = read_image(d).rgb, read_image(c).rgb
        h, w = min(dg.shape[0], cl.shape[0]), min(dg.shape[1], cl.shape[1])
        items.append(EvalItem(d.stem, kind, dg[:h, :w], cl[:h, :w]))
    return items


def _pad16(x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = -h % 16, -w % 16
    return (torch.nn.functional.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x), h, w


def model_runner(source: str, *, steps: int | None = None) -> Callable[[np.ndarray, int], np.ndarray]:
    """A function (degraded (H, W, 3), seed) -> restored (H, W, 3) for a run/checkpoint folder or weights file
    (restoration bundles are run by the runtime: ``qualedge.runtime.diffusion_restorer.image_runner``)."""
    p = Path(source)
    if (p / "manifest.json").is_file():
        raise ConfigError(f"{source} is a bundle; evaluate it with 'qualedge eval-restore' (which runs bundles through the runtime)")
    from qualedge.diffusion import SamplerSpec, UnrolledSampler
    from qualedge.iqa.head import load_quality_head
    from qualedge.weights.model_load import load_model

    loaded = load_model(source)
    if loaded.descriptor.arch_id != "adaqual_unet":
        raise ConfigError(f"model {source}: a {loaded.descriptor.arch_id} model, not a restoration (adaqual_unet) model")
    net = loaded.model
    how = SamplerSpec.from_meta(loaded.meta, steps=steps)
    sampler = UnrolledSampler(net.eval(), coefficients=how.coefficients())
    head = load_quality_head()

    @torch.inference_mode()
    def run(img: np.ndarray, seed: int) -> np.ndarray:
        x, h, w = _pad16(torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None])
        q = head.cell_map(x)
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(x.shape, generator=g).clamp(-1, 1) * how.noise_scale
        y = sampler(x, q, noise)[0, :, :h, :w]
        return np.ascontiguousarray(y.numpy().transpose(1, 2, 0))

    run.sampler = how  # type: ignore[attr-defined]
    return run


def _scores(img: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    from qualedge.iqa.blockiness import blockiness
    from qualedge.iqa.fr import psnr_np, ssim_np

    return {
        "blockiness": blockiness(np.floor(np.clip(img, 0, 1) * 255 + 0.5) / 255),
        "psnr_rgb": psnr_np(img, ref, color="rgb", quantize=True),
        "ssim_rgb": ssim_np(img, ref, color="rgb", quantize=True),
        "psnr_y": psnr_np(img, ref, color="y", quantize=True),
        "ssim_y": ssim_np(img, ref, color="y", quantize=True),
    }


Runner = Callable[[np.ndarray, int], np.ndarray]


def evaluate(models: Sequence[tuple[str, str | Runner]], items: list[EvalItem], *, seed: int = 0, progress: bool = True, log=print) -> dict[str, Any]:
    """{"rows": {model: {type: {column: mean}}}, "types": [...], "n": {type: count}}; "input" is the degraded image.

    ``models``: (name, source) with source a checkpoint/run folder, a weights file, or a runner function."""
    names = [n for n, _ in models]
    if "input" in names or len(set(names)) != len(names):
        raise ConfigError(f"model names must be unique and not 'input', got {names}")
    kinds = list(dict.fromkeys(it.kind for it in items))
    per: dict[str, dict[str, list[dict[str, float]]]] = {"input": {k: [] for k in kinds}}
    for it in items:
        per["input"][it.kind].append(_scores(it.degraded, it.clean))
    for name, src in models:
        run = src if callable(src) else model_runner(src)
        per[name] = {k: [] for k in kinds}
        it_iter = items
        if progress:
            from tqdm import tqdm

            it_iter = tqdm(items, desc=f"eval-restore {name}", leave=False)
        for j, it in enumerate(it_iter):
            per[name][it.kind].append(_scores(run(it.degraded, seed + j), it.clean))
    # per image and type, in item order (for paired tests across models): name, type and every column
    items_out = {name: [{"image": it.name, "type": it.kind, **sc} for it, sc in zip(items, _in_item_order(by_kind, items))] for name, by_kind in per.items()}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for name, by_kind in per.items():
        rows[name] = {k: {c: float(np.mean([s[c] for s in v])) for c in COLUMNS} for k, v in by_kind.items()}
        rows[name]["average"] = {c: float(np.mean([rows[name][k][c] for k in kinds])) for c in COLUMNS}
    sources = {n: (s if isinstance(s, str) else getattr(s, "source", repr(s))) for n, s in models}
    return {"rows": rows, "types": kinds, "n": {k: sum(1 for it in items if it.kind == k) for k in kinds}, "models": sources, "items": items_out}


def _in_item_order(by_kind: dict[str, list[dict[str, float]]], items: list[EvalItem]) -> list[dict[str, float]]:
    """The per-type score lists back in the order of ``items`` (each type's list was filled in item order)."""
    pos = {k: 0 for k in by_kind}
    out = []
    for it in items:
        out.append(by_kind[it.kind][pos[it.kind]])
        pos[it.kind] += 1
    return out


def markdown(res: dict[str, Any], title: str = "") -> str:
    kinds = [*res["types"], "average"]
    lines = [f"### {title}", ""] if title else []
    lines.append("PSNR (dB) / SSIM on RGB; Y-channel values in the second table. `input` is the degraded image.")
    for cp, cs, label in (("psnr_rgb", "ssim_rgb", "RGB"), ("psnr_y", "ssim_y", "Y")):
        lines += ["", f"{label}:", "", "| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for name, r in res["rows"].items():
            lines.append(f"| {name} | " + " | ".join(f"{r[k][cp]:.2f} / {r[k][cs]:.3f}" for k in kinds) + " |")
    if all("blockiness" in r["average"] for r in res["rows"].values()):
        lines += ["", "Blockiness (16-pixel grid; about 1 without grid artefacts):", "", "| model | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for name, r in res["rows"].items():
            lines.append(f"| {name} | " + " | ".join(f"{r[k]['blockiness']:.3f}" for k in kinds) + " |")
    base = res["rows"]["input"]["average"]["psnr_rgb"]
    gains = [f"{n}: {r['average']['psnr_rgb'] - base:+.2f} dB" for n, r in res["rows"].items() if n != "input"]
    lines += ["", "Average RGB PSNR gain over the degraded input: " + ", ".join(gains) + "."]
    return "\n".join(lines)


__all__ = ["EvalItem", "synthetic_items", "paired_items", "model_runner", "evaluate", "markdown", "COLUMNS"]
