"""Where do the shipped AdaQual-Diff model's 16-pixel blocks come from? (``python -m qualedge.benchmarks.block_cause``)

The embedded restoration model's outputs show blocks on a 16-pixel grid (docs/models/adaqual-default-example.jpg).
Suspects: the quality prompts (one prompt set per 16-pixel bottleneck cell, regions switch abruptly), the quality
map itself (one value per 16-pixel cell), and the U-Net backbone (four 2x2 stride-2 convolutions down and four
1x1-conv + PixelShuffle steps up: a 16-pixel lattice of non-overlapping receptive-field trees). This script runs the
model on whole held-out composites (no runtime tiling) with the prompts as trained, with the prompt module removed
(``none``), and with a constant quality map, and measures the blockiness (qualedge.iqa.blockiness) of each output
against the clean and the degraded image. Writes benchmarks/results/block_cause.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qualedge.benchmarks.block_cause", description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=6, help="Kodak24 photos (held out from restoration training)")
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "block_cause"))
    args = ap.parse_args(argv)
    import torch
    from qualedge.export.defaults import RESTORE_WEIGHTS

    from qualedge import paths
    from qualedge.archs import detect_arch
    from qualedge.atomic import atomic_write_json, atomic_write_text
    from qualedge.data.degradations.composite import TYPES, composite
    from qualedge.diffusion import UnrolledSampler
    from qualedge.io import read_image
    from qualedge.iqa.blockiness import blockiness
    from qualedge.iqa.head import load_quality_head
    from qualedge.weights.load import load_state_dict
    from qualedge.weights.zoo import load_into

    data = paths.shared_data_dir()
    if data is None:
        raise SystemExit("block_cause needs the data folder (QUALEDGE_DATA) for Kodak24")
    sd = load_state_dict(RESTORE_WEIGHTS)
    spec = detect_arch(sd)
    hp = spec.infer(sd)
    head = load_quality_head()
    variants = {"prompts as trained": ("adaptive", False), "prompt module removed": ("none", False), "constant quality map": ("adaptive", True)}
    nets = {}
    for name, (mode, _) in variants.items():
        net, _ = spec.build(**{**hp, "prompt_mode": mode})
        load_into(net, sd, source=str(RESTORE_WEIGHTS))
        nets[name] = UnrolledSampler(net.eval(), 2)
    rows: dict[str, list[float]] = {"clean": [], "degraded": [], **{n: [] for n in variants}}
    psnr: dict[str, list[float]] = {n: [] for n in variants}
    files = sorted((data / "images" / "kodak24").glob("*.png"))[: args.images]
    c = args.crop
    for i, f in enumerate(files):
        img = read_image(f).rgb
        h, w = img.shape[:2]
        clean = np.ascontiguousarray(img[(h - c) // 2 : (h + c) // 2, (w - c) // 2 : (w + c) // 2])
        kind = TYPES[i % len(TYPES)]
        deg = composite(clean, kind, i)
        x = torch.from_numpy(deg.transpose(2, 0, 1).copy())[None]
        noise = torch.from_numpy(np.clip(np.random.default_rng(i).standard_normal(x.shape), -1, 1).astype(np.float32))
        with torch.inference_mode():
            q = head.cell_map(x)
            for name, (_, const) in variants.items():
                out = nets[name](x, torch.full_like(q, float(q.mean())) if const else q, noise)[0].numpy().transpose(1, 2, 0)
                out = np.floor(np.clip(out, 0, 1) * 255 + 0.5) / 255
                rows[name].append(blockiness(out))
                psnr[name].append(float(10 * np.log10(1 / np.mean((out - clean) ** 2))))
        rows["clean"].append(blockiness(clean))
        rows["degraded"].append(blockiness(deg))
    res = {
        "date": time.strftime("%Y-%m-%d"), "weights": str(RESTORE_WEIGHTS.name), "images": [f.name for f in files], "crop": c,
        "blockiness": {k: float(np.mean(v)) for k, v in rows.items()}, "psnr_rgb": {k: float(np.mean(v)) for k, v in psnr.items()},
    }  # fmt: skip
    b = res["blockiness"]
    prompts_cause = b["prompts as trained"] - b["prompt module removed"]
    lines = [
        "# Where the restoration model's 16-pixel blocks come from",
        "",
        f"`python -m qualedge.benchmarks.block_cause`, {res['date']}: the embedded model on {len(files)} Kodak24 centre crops of {c} px "
        "(one CDD-11 type each), whole images (no runtime tiling), 2 DDIM steps. Blockiness: luma steps on the 16-pixel grid "
        "against elsewhere (about 1 without grid artefacts).",
        "",
        "| image | blockiness | RGB PSNR (dB) |",
        "|---|---|---|",
        *[f"| {k} | {v:.3f} | {res['psnr_rgb'][k]:.2f} |" if k in res["psnr_rgb"] else f"| {k} | {v:.3f} | |" for k, v in b.items()],
        "",
        f"Removing the prompt module changes the blockiness by {-prompts_cause:+.3f} and a constant quality map by "
        f"{b['constant quality map'] - b['prompts as trained']:+.3f}: the blocks "
        + ("are **not** made by the prompts or the quality map; they come from the backbone's 16-pixel lattice (2x2 stride-2 "
           "downsampling and 1x1-conv + PixelShuffle upsampling, non-overlapping at every level)."
           if abs(prompts_cause) < 0.05 else "change with the prompts: the prompt module contributes to them."),
    ]  # fmt: skip
    out = Path(args.out)
    atomic_write_json(out.with_suffix(".json"), res)
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
