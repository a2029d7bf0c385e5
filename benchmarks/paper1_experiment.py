"""Paper 1 reproduced in direction, with qualedge's own commands (CPU-sized; the same commands scale up on GPUs).

    python -m qualedge.benchmarks.paper1_experiment [--work DIR] [--quick]

1. ``make-distill``: (LR, realesrgan-x4plus(LR)) pairs from training photos (Kodak24 + T91), blind degradation;
2. ``train-sr``: the compact model (SRVGGNetCompact 64/16, initialised from realesr-animevideov3) distilled from
   x4plus on those pairs (L1 + perceptual);
3. ``make-multigt``: candidate GTs for the training photos (x4plus re-synthesis, unsharp mask, detail enhancement,
   denoising), no human labels;
4. ``train-sr`` from the distilled model with OrigOnly, SMA (quality head scores) and AMO (quality head on the crop),
   HGGT losses with the GAN on (a U-Net discriminator of 32 features and 96-pixel crops, to fit a CPU), the same
   steps and seed;
5. ``finetune-sr`` AMO + LoRA FT with Q = the quality head;
6. ``eval-sr`` on held-out Set14 and BSD100 (bicubic LR x4): PSNR/SSIM (Y), NIQE (independent of Q), PIQE, and the
   quality head (the optimised Q, for reference).
Writes ``benchmarks/results/paper1_experiment.{json,md}``. Needs the data folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from qualedge.benchmarks.cli_steps import finished_step, latest, run

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    from qualedge import paths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs/paper1", help="working folder (re-runs skip finished steps)")
    ap.add_argument("--quick", action="store_true", help="tiny settings to check the pipeline")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "paper1_experiment"))
    ap.add_argument(
        "--ship",
        action="store_true",
        help="merge the AMO + LoRA FT model into the embedded compact default and write its card",
    )
    args = ap.parse_args(argv)
    data = paths.shared_data_dir()
    if data is None:
        print("paper1_experiment needs the data folder (QUALEDGE_DATA)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    img = data / "images"
    train_photos = work / "photos"
    if not train_photos.is_dir():
        train_photos.mkdir()
        for src in sorted((img / "kodak24").glob("*.png")) + sorted((img / "t91").glob("*.png")):
            shutil.copy(src, train_photos / f"{src.parent.name}_{src.name}")
    q = args.quick
    steps = {"distill": 8 if q else 3000, "sample": 6 if q else 300, "ft": 4 if q else 300}
    pairs = work / "distill_pairs"
    if not (pairs / "README.md").is_file():
        run(
            [
                "make-distill",
                str(train_photos),
                "-o",
                str(pairs),
                "--count",
                "16" if q else "1024",
                "--lr-size",
                "32" if q else "48",
                "--no-progress",
            ]
        )
    common = [
        "--set",
        "run.batch=4" if q else "run.batch=8",
        "--set",
        "run.progress=false",
        "--set",
        "run.seed=0",
        "--set",
        "data.seed=0",
    ]
    distilled = work / "distilled"
    if finished_step(distilled) < steps["distill"]:
        run(["train-sr", *common, "--set", 'model.preset="animevideov3"', "--set", 'model.init="realesr-animevideov3"',
              "--set", f'data.paired_roots=["{pairs}"]', "--set", "data.gt_size=128" if not q else "data.gt_size=64", "--set", "loss.gan=0.0",
              "--set", "optim.lr=2e-4", "--set", f"run.steps={steps['distill']}", "--set", f"run.ckpt_every={steps['distill']}", "--set", f'run.out="{distilled}"'])  # fmt: skip
    mgt = work / "multigt"
    if not (mgt / "README.md").is_file():
        run(
            ["make-multigt", str(train_photos), "-o", str(mgt), "--sr-model", "realesrgan-x4plus", "--no-progress"]
            + (["--max-images", "4"] if q else [])
        )
    runs = {}
    for strategy in ("orig_only", "sma", "amo"):
        out = work / f"sample_{strategy}"
        runs[strategy] = out
        if finished_step(out) >= steps["sample"]:
            continue
        run(["train-sr", *common, "--set", f'model.init="{latest(distilled)}"', "--set", f'data.multigt_roots=["{mgt}"]',
              "--set", f'data.strategy="{strategy}"', "--set", "data.temperature=0.05", "--set", 'data.score_metric="qhead"',
              "--set", "data.gt_size=96" if not q else "data.gt_size=64", "--set", "optim.lr=5e-5", "--set", "model.disc_hparams={num_feat=32}",
              "--set", f"run.steps={steps['sample']}", "--set", f"run.ckpt_every={steps['sample']}", "--set", f'run.out="{out}"'])  # fmt: skip
    ft = work / "amo_lora_ft"
    if finished_step(ft) < steps["ft"]:
        run(["finetune-sr", *common, "--set", f'model.init="{latest(runs["amo"])}"', "--set", 'model.preset="animevideov3"',
              "--set", f'data.multigt_roots=["{mgt}"]', "--set", 'data.strategy="amo"', "--set", 'variant="FT"', "--set", "reward.weight=0.1",
              "--set", "data.gt_size=96" if not q else "data.gt_size=64", "--set", "lora.rank=8",
              "--set", f"run.steps={steps['ft']}", "--set", f"run.ckpt_every={steps['ft']}", "--set", f'run.out="{ft}"'])  # fmt: skip
    models = {
        "bicubic": "bicubic",
        "realesrgan-x4plus (teacher)": "realesrgan-x4plus",
        "compact distilled": str(latest(distilled)),
        "OrigOnly": str(latest(runs["orig_only"])),
        "SMA (qhead)": str(latest(runs["sma"])),
        "AMO (qhead)": str(latest(runs["amo"])),
        "AMO + LoRA FT (Q = qhead)": str(latest(ft)),
    }
    from qualedge.train.eval_sr import evaluate, load_pairs, markdown

    results = {"steps": steps, "models": models, "sets": {}}
    metrics = (
        "psnr_y",
        "ssim_y",
        "niqe",
        "piqe",
        "qhead",
        "pyiqa:lpips",
        "pyiqa:musiq",
        "pyiqa:nima",
        "pyiqa:topiq_nr",
    )
    md = ["# Paper 1 reproduced in direction (CPU scale)", ""]
    for name in ("set14", "bsd100"):
        items = load_pairs(img / name / "LR_x4", img / name / "HR", 4)
        if q:
            items = items[:2]
        res = evaluate(list(models.values()), items, scale=4, metrics=metrics, progress=False)
        res["rows"] = {label: res["rows"][src] for label, src in models.items()}
        results["sets"][name] = res
        md.append(markdown(res, f"{name} (bicubic LR x4)"))
        md.append("")
    from qualedge.atomic import atomic_write_json, atomic_write_text

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), results)
    atomic_write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))
    if args.ship:
        ship_compact(latest(ft), results, steps)
    return 0


def cpu_speed(models: dict[str, object], size: int = 128, repeats: int = 3) -> dict[str, float]:
    """Median seconds of one eager fp32 forward on a size x size input, per model (same process, same threads)."""
    import statistics

    import torch

    x = torch.rand(1, 3, size, size)
    out = {}
    for name, m in models.items():
        with torch.inference_mode():
            m(x)
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                m(x)
                ts.append(time.perf_counter() - t0)
        out[name] = statistics.median(ts)
    return out


def ship_compact(ft: Path, results: dict, steps: dict) -> None:
    """Merge the LoRA-fine-tuned compact model into qualedge/assets/weights and write docs/models/qualedge-compact-x4.md."""
    import torch
    from qualedge.export.api import ModelSource, resolve_model

    from qualedge.atomic import atomic_write_text
    from qualedge.weights.load import save_state_dict
    from qualedge.weights.zoo import ASSETS, load_pretrained

    model, desc, info = resolve_model(ModelSource(name="sr", checkpoint=str(ft)))
    target = ASSETS / "qualedge_compact_x4.safetensors"
    save_state_dict(
        target,
        {k: v.detach().contiguous() for k, v in model.state_dict().items()},
        metadata={"arch_id": "srvgg", "source": str(ft)},
    )
    torch.set_num_threads(2)
    heavy, _ = load_pretrained("realesrgan-x4plus")
    t = cpu_speed({"compact": model, "x4plus": heavy})
    ratio = t["x4plus"] / t["compact"]
    lines = [
        "# qualedge compact x4 (the embedded default's compact model)", "",
        "- **What**: SRVGGNetCompact (64 features, 16 convolutions, PReLU, x4, 0.62 M parameters), the model the default",
        "  bundle sends high-quality tiles to; zoo id `qualedge-compact-x4`, file `qualedge/assets/weights/qualedge_compact_x4.safetensors`.",
        "- **How it was made** (`python -m qualedge.benchmarks.paper1_experiment --ship`, all on a 2-core CPU):",
        f"  1. initialised from realesr-animevideov3, distilled from realesrgan-x4plus for {steps['distill']} steps on 1024",
        "     (LR, x4plus(LR)) pairs of Kodak24 + T91 crops with blind degradations (`make-distill`, `train-sr`, L1 + perceptual);",
        f"  2. {steps['sample']} steps of HGGT-style training with AMO multi-ground-truth sampling scored by the quality head",
        "     (candidates from `make-multigt`: x4plus re-synthesis, unsharp masking, detail enhancement, denoising), GAN on;",
        f"  3. {steps['ft']} steps of LoRA fine-tuning (rank 8, Conv2d layers, base frozen) with the quality-head reward",
        f"     (variant FT), merged in fp32 (merged vs unmerged max |diff| {info.get('lora', {}).get('merged_vs_unmerged_max_abs', float('nan')):.2g}).",
        "- **Licence**: derived from the Real-ESRGAN weights (BSD-3-Clause); training photos Kodak24/T91 (research use).",
        "", "## Measured", "",
        f"CPU speed, one eager fp32 forward on a 128x128 input (2 threads, same process): compact {t['compact'] * 1e3:.0f} ms, "
        f"realesrgan-x4plus {t['x4plus'] * 1e3:.0f} ms: **{ratio:.1f}x faster** (target >= 8x).", "",
        "Held-out test sets (bicubic LR x4, never used in training), from benchmarks/results/paper1_experiment.md:", "",
        "| set | model | PSNR-Y | NIQE (lower better) | PIQE (lower better) | quality head (higher better) |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    verdicts = []
    for name, res in results["sets"].items():
        rows = res["rows"]
        for label in ("bicubic", "AMO + LoRA FT (Q = qhead)", "realesrgan-x4plus (teacher)"):
            r = rows[label]
            shown = "qualedge-compact-x4" if label.startswith("AMO") else label
            lines.append(
                f"| {name} | {shown} | {r['psnr_y']:.2f} | {r['niqe']:.2f} | {r['piqe']:.1f} | {r['qhead']:.3f} |"
            )
        b, c = rows["bicubic"], rows["AMO + LoRA FT (Q = qhead)"]
        verdicts.append(f"{name}: NIQE {'better' if c['niqe'] < b['niqe'] else 'not better'}, PIQE {'better' if c['piqe'] < b['piqe'] else 'not better'}, "
                        f"quality head {'better' if c['qhead'] > b['qhead'] else 'not better'} than bicubic")  # fmt: skip
    lines += ["", "Against bicubic on the no-reference metrics: " + "; ".join(verdicts) + ".",
              "The quality head is the reward it was fine-tuned with; NIQE and PIQE were not optimised directly, but the quality",
              "head was trained to predict NIQE+PIQE, so they are not fully independent of the reward.", ""]  # fmt: skip
    atomic_write_text(REPO / "docs" / "models" / "qualedge-compact-x4.md", "\n".join(lines))
    print(f"shipped {target} ({ratio:.1f}x faster than x4plus)")


if __name__ == "__main__":
    sys.exit(main())
