"""Paper 1 with power: IQA-guided ground-truth choice against its controls, 3 seeds per arm; and the compact default.

    python -m qualedge.benchmarks.paper1_experiment [--part arms|ship] [--seeds 0,1,2] [--steps N] [--ft-steps N] [--quick]

``--part arms`` (default) — the experiment:
1. ``make-multigt``: candidate GTs for the training photos (Kodak24 + T91): x4plus re-synthesis, unsharp mask, detail
   enhancement, denoising; no human labels;
2. ``train-sr`` of the compact model (SRVGGNetCompact 64/16), every arm from the same start (realesr-animevideov3),
   the same data, budget and losses (HGGT: L1 + perceptual + GAN with a U-Net discriminator of 32 features, 96-pixel
   crops), with seeds 0, 1, 2: OrigOnly (the original HR only), Rand (a random candidate: the control that separates
   IQA-guided choice from simply training on enhanced GTs), SMA and AMO (candidates chosen by the quality head);
3. ``finetune-sr`` AMO + LoRA FT (reward Q = the quality head) from each AMO seed;
4. ``eval-sr`` on held-out Set14 and BSD100 (bicubic LR x4): PSNR-Y/SSIM-Y and BRISQUE steered nothing; NIQE and PIQE
   steered nothing directly but taught the quality head (a caveat); the quality head is the steering metric.
Per arm: mean and standard deviation over seeds, the relative distance of the raw and EMA weights from the start;
paired Wilcoxon tests over images (values averaged over seeds) for each of the paper's claims, with a verdict: holds,
fails, or cannot be told at this scale. Writes ``benchmarks/results/paper1_experiment.{json,md}``.

``--part ship`` — how the embedded compact default was made (distillation from x4plus, AMO, LoRA FT), ``--ship``
writes the merged model and its card to WORK/ship/; ``qualedge package-model`` ships it. Needs the data folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from qualedge.benchmarks.cli_steps import finished_step, latest, run

REPO = Path(__file__).resolve().parents[1]


def training_photos(img: Path, work: Path) -> Path:
    """Kodak24 + T91 copied into one folder of the work folder (names prefixed by their set)."""
    train_photos = work / "photos"
    if not train_photos.is_dir():
        tmp = work / "photos.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for src in sorted((img / "kodak24").glob("*.png")) + sorted((img / "t91").glob("*.png")):
            shutil.copy(src, tmp / f"{src.parent.name}_{src.name}")
        tmp.rename(train_photos)
    return train_photos


def multigt(train_photos: Path, work: Path, quick: bool) -> Path:
    mgt = work / "multigt"
    if not (mgt / "README.md").is_file():
        run(
            ["make-multigt", str(train_photos), "-o", str(mgt), "--sr-model", "realesrgan-x4plus", "--no-progress"]
            + (["--max-images", "4"] if quick else [])
        )
    return mgt


def ship_pipeline(args, img: Path, work: Path) -> int:
    """How the embedded compact default was made: distil from x4plus, AMO, LoRA FT (one seed)."""
    train_photos = training_photos(img, work)
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
    mgt = multigt(train_photos, work, q)
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
    md = ["# The compact default's pipeline (one seed, CPU scale)", ""]
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

    out = Path(args.out).with_name("compact_pipeline")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), results)
    atomic_write_text(out.with_suffix(".md"), "\n".join(md) + "\n")
    print("\n".join(md))
    if args.ship:
        ship_compact(latest(ft), results, steps, work / "ship")
    return 0


ARMS = ("orig_only", "rand", "sma", "amo")
LABELS = {
    "start": "start (animevideov3)",
    "orig_only": "OrigOnly",
    "rand": "Rand",
    "sma": "SMA (qhead)",
    "amo": "AMO (qhead)",
    "amo_ft": "AMO + LoRA FT (Q = qhead)",
}
METRICS = ("psnr_y", "ssim_y", "brisque", "niqe", "piqe", "qhead")
ROLE = {"psnr_y": "independent", "ssim_y": "independent", "brisque": "independent", "niqe": "caveat: taught the quality head",
        "piqe": "caveat: taught the quality head", "qhead": "steering (GT choice and reward)"}  # fmt: skip
# (claim, arm a, arm b, metrics judged): a better than b
CLAIMS = (
    (
        "IQA-guided GT choice (AMO) gives better perceptual quality than the original HR (OrigOnly)",
        "amo",
        "orig_only",
        ("brisque", "niqe", "piqe", "qhead"),
    ),
    (
        "IQA-guided GT choice beats a random enhanced GT (AMO vs Rand)",
        "amo",
        "rand",
        ("brisque", "niqe", "piqe", "qhead"),
    ),
    (
        "IQA-guided GT choice beats a random enhanced GT (SMA vs Rand)",
        "sma",
        "rand",
        ("brisque", "niqe", "piqe", "qhead"),
    ),
    ("AMO beats SMA", "amo", "sma", ("brisque", "niqe", "piqe", "qhead")),
    (
        "LoRA fine-tuning with the IQA reward improves perceptual quality (AMO + FT vs AMO)",
        "amo_ft",
        "amo",
        ("brisque", "niqe", "piqe", "qhead"),
    ),
    ("Enhanced GTs cost fidelity (OrigOnly has higher PSNR-Y than AMO)", "orig_only", "amo", ("psnr_y", "ssim_y")),
)
START = "realesr-animevideov3"


def weight_distance(ckpt: Path, start: dict) -> dict[str, float]:
    """||w - w0|| / ||w0|| over the generator's tensors, for the raw and the EMA weights of a checkpoint."""
    import torch

    from qualedge.checkpoint import read_checkpoint

    out = {}
    for kind, ref in (("ema", str(ckpt)), ("raw", f"{ckpt}@raw")):
        try:
            sd = read_checkpoint(ref).state_dict
        except Exception as exc:  # noqa: BLE001 - a checkpoint without raw weights (no EMA): report why
            out[kind] = float("nan")
            out[f"{kind}_error"] = str(exc).splitlines()[0][:120]
            continue
        keys = [k for k in start if k in sd and sd[k].shape == start[k].shape and start[k].is_floating_point()]
        num = torch.sqrt(sum(((sd[k].float() - start[k].float()) ** 2).sum() for k in keys))
        den = torch.sqrt(sum((start[k].float() ** 2).sum() for k in keys))
        out[kind] = float(num / den)
    return out


def arms_experiment(args, img: Path, work: Path) -> int:
    import numpy as np
    from qualedge.benchmarks.stats import mean_std, paired

    q = args.quick
    seeds = [int(x) for x in args.seeds.split(",")]
    steps, ft_steps = (6, 4) if q else (args.steps, args.ft_steps)
    mgt = multigt(training_photos(img, work), work, q)
    gs = "data.gt_size=64" if q else "data.gt_size=96"
    runs: dict[tuple[str, int], Path] = {}
    for seed in seeds:
        common = ["--set", f"run.batch={4 if q else 8}", "--set", "run.progress=false", "--set", f"run.seed={seed}", "--set", f"data.seed={seed}",
                  "--set", f'data.multigt_roots=["{mgt}"]', "--set", gs, "--set", "run.log_every=20"]  # fmt: skip
        for arm in ARMS:
            out = work / f"{arm}_s{seed}"
            runs[(arm, seed)] = out
            if finished_step(out) < steps:
                run(["train-sr", *common, "--set", 'model.preset="animevideov3"', "--set", f'model.init="{START}"', "--set", f'data.strategy="{arm}"',
                     "--set", "data.temperature=0.05", "--set", 'data.score_metric="qhead"', "--set", "optim.lr=1e-4", "--set", "model.disc_hparams={num_feat=32}",
                     "--set", f"run.steps={steps}", "--set", f"run.ckpt_every={steps}", "--set", f'run.out="{out}"'])  # fmt: skip
        ft = work / f"amo_ft_s{seed}"
        runs[("amo_ft", seed)] = ft
        if finished_step(ft) < ft_steps:
            run(["finetune-sr", *common, "--set", f'model.init="{latest(runs[("amo", seed)])}"', "--set", 'model.preset="animevideov3"',
                 "--set", 'data.strategy="amo"', "--set", 'variant="FT"', "--set", "reward.weight=0.1", "--set", "lora.rank=8",
                 "--set", f"run.steps={ft_steps}", "--set", f"run.ckpt_every={ft_steps}", "--set", f'run.out="{ft}"'])  # fmt: skip
    if args.train_only:
        return 0
    from qualedge.train.eval_sr import evaluate, load_pairs

    from qualedge.weights.zoo import load_pretrained

    start_model, _ = load_pretrained(START)
    start_sd = {k: v.detach().clone() for k, v in start_model.state_dict().items()}
    arm_names = [*ARMS, "amo_ft"]
    distance = {
        a: {str(s): weight_distance(latest(runs[(a, s)]), start_sd) for s in seeds} for a in arm_names if a != "amo_ft"
    }
    sources = {"start": START, **{f"{a}_s{s}": str(latest(o)) for (a, s), o in runs.items()}}
    sets = {}
    for name, limit in (("set14", None), ("bsd100", args.bsd_limit)):
        items = load_pairs(img / name / "LR_x4", img / name / "HR", 4)[: 2 if q else limit]
        cache = work / f"eval_{name}.json"
        prev = json.loads(cache.read_text()) if cache.is_file() else {}
        if prev.get("sources") != sources or prev.get("images") != len(items):
            res = evaluate(list(sources.values()), items, scale=4, metrics=METRICS, progress=False)
            prev = {"sources": sources, "images": len(items), "res": res}
            from qualedge.atomic import atomic_write_json

            atomic_write_json(cache, prev)
        sets[name] = prev["res"]
    results = {"seeds": seeds, "steps": {"sample": steps, "ft": ft_steps}, "start": START, "metric_roles": ROLE, "sets": {}, "weight_distance": distance,
               "runs": {f"{a}_s{s}": str(o) for (a, s), o in runs.items()}, "quick": q}  # fmt: skip
    for name, res in sets.items():
        hib, metrics = res["higher_is_better"], res["metrics"]
        by_name = {n: src for n, src in sources.items()}
        summary = {"start": {m: res["rows"][START][m] for m in metrics}}
        per_img: dict[str, dict[str, np.ndarray]] = {}
        for a in arm_names:
            summary[a] = {m: mean_std([res["rows"][by_name[f"{a}_s{s}"]][m] for s in seeds]) for m in metrics}
            per_img[a] = {m: np.nanmean(np.array([[np.nan if v is None else v for v in res["per_image"][by_name[f"{a}_s{s}"]][m]] for s in seeds], dtype=float), axis=0)
                          for m in metrics}  # fmt: skip
        claims = []
        for text, a, b, ms in CLAIMS:
            judged = {}
            for m in ms:
                if m not in metrics:
                    continue
                x, y = per_img[a][m], per_img[b][m]
                ok = ~(np.isnan(x) | np.isnan(y))
                t = paired(x[ok], y[ok], higher_is_better=hib[m])
                spread = max(summary[a][m]["std"], summary[b][m]["std"])
                better = (t["mean_diff"] > 0) == hib[m]
                if t["p_wilcoxon"] == t["p_wilcoxon"] and t["p_wilcoxon"] < 0.05 and abs(t["mean_diff"]) > spread:
                    t["verdict"] = "holds" if better else "fails"
                else:
                    t["verdict"] = "cannot be told"
                t["seed_spread"] = spread
                judged[m] = t
            claims.append({"claim": text, "a": a, "b": b, "metrics": judged})
        results["sets"][name] = {
            "images": res["images"],
            "summary": summary,
            "claims": claims,
            "unavailable": res["unavailable"],
        }
    from qualedge.atomic import atomic_write_json, atomic_write_text

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out.with_suffix(".json"), results)
    md = arms_markdown(results)
    atomic_write_text(out.with_suffix(".md"), md)
    print(md)
    return 0


def arms_markdown(r: dict) -> str:
    import numpy as np

    lines = ["# Paper 1 with controls and seeds (CPU scale)", "",
             f"`python -m qualedge.benchmarks.paper1_experiment`: every arm starts from {r['start']} and trains {r['steps']['sample']} steps "
             f"(AMO + LoRA FT: {r['steps']['ft']} more from each AMO run) with seeds {r['seeds']}; EMA weights evaluated on held-out Set14 and BSD100 "
             "(bicubic LR x4). Mean ± standard deviation over seeds.", "",
             "Metric roles: " + "; ".join(f"{m} {role}" for m, role in r["metric_roles"].items()) + ".", "",
             "Relative distance of the weights from the start model, ||w - w0|| / ||w0|| (raw / EMA), mean over seeds: "
             + ", ".join(f"{LABELS[a]} {np.mean([d['raw'] for d in v.values()]):.4f} / {np.mean([d['ema'] for d in v.values()]):.4f}" for a, v in r["weight_distance"].items()) + ".", ""]  # fmt: skip
    for name, s in r["sets"].items():
        ms = list(s["summary"]["start"])
        lines += [
            f"## {name} ({s['images']} images)",
            "",
            "| model | " + " | ".join(ms) + " |",
            "|---|" + "---|" * len(ms),
        ]
        lines.append(f"| {LABELS['start']} | " + " | ".join(f"{s['summary']['start'][m]:.3f}" for m in ms) + " |")
        for a, row in s["summary"].items():
            if a != "start":
                lines.append(
                    f"| {LABELS[a]} | " + " | ".join(f"{row[m]['mean']:.3f} ± {row[m]['std']:.3f}" for m in ms) + " |"
                )
        lines += [
            "",
            "| claim | metric | a - b | a better | Wilcoxon p | seed spread | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in s["claims"]:
            for m, t in c["metrics"].items():
                lines.append(
                    f"| {c['claim']} | {m} | {t['mean_diff']:+.4f} | {t['wins']}/{t['n']} | {t['p_wilcoxon']:.3g} | {t['seed_spread']:.4f} | **{t['verdict']}** |"
                )
        lines.append("")
    lines += ["Verdict rule: holds (or fails) when the paired Wilcoxon p < 0.05 over images (values averaged over seeds) and the mean "
              "difference exceeds the larger seed standard deviation of the two arms; otherwise it cannot be told at this scale. A claim "
              "judged only by the steering metric (qhead) says little: BRISQUE and PSNR/SSIM steered nothing.", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from qualedge import paths

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("arms", "ship"), default="arms")
    ap.add_argument("--work", default="runs/paper1", help="working folder (re-runs skip finished steps)")
    ap.add_argument("--quick", action="store_true", help="tiny settings to check the pipeline")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds of every arm")
    ap.add_argument(
        "--steps",
        type=int,
        default=150,
        help="training steps of every arm (150: about 4 minutes per run on one CPU thread)",
    )
    ap.add_argument("--ft-steps", type=int, default=75, help="LoRA fine-tuning steps from each AMO run")
    ap.add_argument(
        "--train-only",
        action="store_true",
        help="train the arms of --seeds and stop (to train seeds in parallel processes)",
    )
    ap.add_argument("--bsd-limit", type=int, default=20, help="BSD100 images in the test (Set14: all 14)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "paper1_experiment"))
    ap.add_argument(
        "--ship",
        action="store_true",
        help="--part ship: write its merged AMO + LoRA FT model and card to WORK/ship/ (shipped by qualedge package-model)",
    )
    args = ap.parse_args(argv)
    data = paths.shared_data_dir()
    if data is None:
        print("paper1_experiment needs the data folder (QUALEDGE_DATA)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    img = data / "images"
    return arms_experiment(args, img, work) if args.part == "arms" else ship_pipeline(args, img, work)


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


def ship_compact(ft: Path, results: dict, steps: dict, out: Path) -> None:
    """Merge the LoRA-fine-tuned compact model into ``out``/qualedge_compact_x4.safetensors and write its card
    ``out``/qualedge-compact-x4.md (a candidate: ``qualedge package-model`` makes it the shipped default)."""
    import torch
    from qualedge.export.api import ModelSource, resolve_model

    from qualedge.atomic import atomic_write_text
    from qualedge.weights.load import save_state_dict
    from qualedge.weights.model_load import weights_metadata
    from qualedge.weights.zoo import load_pretrained

    model, desc, info = resolve_model(ModelSource(name="sr", checkpoint=str(ft)))
    out.mkdir(parents=True, exist_ok=True)
    target = out / "qualedge_compact_x4.safetensors"
    save_state_dict(
        target,
        {k: v.detach().contiguous() for k, v in model.state_dict().items()},
        metadata=weights_metadata(desc, source=str(ft)),
    )
    torch.set_num_threads(2)
    heavy, _ = load_pretrained("realesrgan-x4plus")
    t = cpu_speed({"compact": model, "x4plus": heavy})
    ratio = t["x4plus"] / t["compact"]
    lines = [
        "# qualedge compact x4 (the embedded default's compact model)", "",
        "- **What**: SRVGGNetCompact (64 features, 16 convolutions, PReLU, x4, 0.62 M parameters), the model the default",
        "  bundle sends high-quality tiles to; zoo id `qualedge-compact-x4`, file `qualedge/assets/weights/qualedge_compact_x4.safetensors`.",
        "- **How it was made** (`python -m qualedge.benchmarks.paper1_experiment --part ship --ship`, then `qualedge package-model`, all on a 2-core CPU):",
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
        "Held-out test sets (bicubic LR x4, never used in training), from benchmarks/results/compact_pipeline.md:", "",
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
    card = atomic_write_text(out / "qualedge-compact-x4.md", "\n".join(lines))
    print(
        f"candidate compact default: {target} ({ratio:.1f}x faster than x4plus) and {card}; to ship it: "
        f"qualedge package-model {target} --as qualedge_compact_x4.safetensors --card {card} --repo {REPO}"
    )


if __name__ == "__main__":
    sys.exit(main())
