"""``qualedge recipe NAME -o DIR``: one command per default model, sized for one lent GPU (<= 10 minutes on an
H100/H200), and a tiny configuration that runs the same code on the CPU (the tests).

Recipes (explicit registry, ``RECIPES``):
- ``compact-sr``: (LR, realesrgan-x4plus(LR)) pairs of the training photos (``make-distill`` with the teacher on
  the GPU), then ``train-sr`` of SRVGGNetCompact 64/16 from realesr-animevideov3 (L1 + perceptual, no GAN);
- ``quality-head``: ``train-qhead`` (the teacher metric runs on the CPU, the head on the GPU);
- ``restoration``: ``train-restore`` of the AdaQual-Diff default preset (adaptive prompts, 2 trailing DDIM steps).
On CUDA every recipe trains with bf16 autocast and channels_last; ``--compile`` adds torch.compile (measure it: it
pays off only when the run is long enough to amortise compilation). ``run.max_minutes`` stops a run that would
overrun the budget, with a checkpoint. The result is ``DIR/<name>.safetensors`` (fp16 when the fp32 file would
exceed 16 MiB) and ``DIR/recipe.json``: device, versions, wall time, steps, throughput, the run's last metrics.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qualedge.errors import ConfigError

MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RecipeContext:
    out: Path
    photos: tuple[Path, ...]
    tiny: bool
    cuda: bool
    compile: bool
    minutes: float

    def run_settings(self) -> list[str]:
        """The trainer settings every Trainer-based recipe shares."""
        kv: dict[str, Any] = {"run.progress": "false", "run.max_minutes": self.minutes, "run.device": '"cuda"' if self.cuda else '"cpu"'}
        if self.cuda:
            kv.update({"run.amp": '"bf16"', "run.channels_last": "true", "run.compile": str(self.compile).lower()})
        return [a for k, v in kv.items() for a in ("--set", f"{k}={v}")]


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    default_photos: Callable[[Path], tuple[Path, ...]]  # data folder -> training photo folders
    steps: Callable[[RecipeContext], list[list[str]]]  # the qualedge commands, in order
    weights: Callable[[RecipeContext], Path]  # the trained weights file


def _latest(run: Path) -> Path:
    return run / json.loads((run / "latest.json").read_text())["path"] / "model.safetensors"


def _compact_steps(c: RecipeContext) -> list[list[str]]:
    pairs = c.out / "pairs"
    make = ["make-distill", str(c.photos[0]), "-o", str(pairs), "--count", "8" if c.tiny else "4096", "--lr-size", "24" if c.tiny else "48",
            "--device", "cuda" if c.cuda else "cpu", "--no-progress"]  # fmt: skip
    kv = {"model.preset": '"animevideov3"', "model.init": '"realesr-animevideov3"', "data.paired_roots": json.dumps([str(pairs)]),
          "data.gt_size": 64 if c.tiny else 192, "loss.gan": 0.0, "optim.lr": 2e-4, "run.batch": 2 if c.tiny else 64,
          "run.steps": 2 if c.tiny else 4000, "run.ckpt_every": 2 if c.tiny else 500, "run.out": json.dumps(str(c.out / "run"))}  # fmt: skip
    return [make, ["train-sr", *[a for k, v in kv.items() for a in ("--set", f"{k}={v}")], *c.run_settings()]]


def _qhead_steps(c: RecipeContext) -> list[list[str]]:
    kv: dict[str, Any] = {"out": json.dumps(str(c.out / "run")), "train.device": '"cuda"' if c.cuda else '"cpu"', "train.amp": '"bf16"' if c.cuda else '"none"',
                          "data.folders": json.dumps([str(p) for p in c.photos])}  # fmt: skip
    if c.tiny:
        kv.update({"data.max_images": 3, "data.crops_per_image": 1, "data.levels": 1, "data.tile": 96, "data.sr_models": '["bicubic"]',
                   "data.sr_crops_per_image": 1, "data.sr_heldout_crops_per_image": 1, "data.heldout_fraction": 0.34, "train.epochs": 1, "train.batch": 4,
                   "teacher": '"piqe"'})  # fmt: skip  # tiny checks the pipeline: PIQE needs no parameter files (NIQE does)
    else:
        kv.update({"train.batch": 256, "train.epochs": 30})
    return [["train-qhead", *[a for k, v in kv.items() for a in ("--set", f"{k}={v}")]]]


def _restore_steps(c: RecipeContext) -> list[list[str]]:
    kv = {"data.clean_folders": json.dumps([str(p) for p in c.photos]), "model.preset": '"tiny"' if c.tiny else '"default"', "data.gt_size": 32 if c.tiny else 128,
          "run.batch": 2 if c.tiny else 32, "run.steps": 2 if c.tiny else 8000, "run.ckpt_every": 2 if c.tiny else 1000, "optim.lr": 5e-4,
          "loss.lambda_percep": 0.0 if c.tiny else 0.1, "run.out": json.dumps(str(c.out / "run"))}  # fmt: skip
    return [["train-restore", *[a for k, v in kv.items() for a in ("--set", f"{k}={v}")], *c.run_settings()]]


def _data(*parts: str) -> Callable[[Path], tuple[Path, ...]]:
    return lambda root: tuple(root / "images" / p for p in parts)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("compact-sr", "SRVGGNetCompact x4 distilled from realesrgan-x4plus", _data("kodak24"), _compact_steps, lambda c: _latest(c.out / "run")),
        Recipe("quality-head", "the quality head distilled from NIQE+PIQE", _data("kodak24", "t91", "cbsd68"), _qhead_steps,
               lambda c: c.out / "run" / "quality_head.safetensors"),  # fmt: skip
        Recipe("restoration", "the AdaQual-Diff default restoration model", _data("bsd100/HR", "t91", "cbsd68"), _restore_steps, lambda c: _latest(c.out / "run")),
    )
}


def finalize(src: Path, dst: Path) -> dict[str, Any]:
    """Copy the trained weights to ``dst``; fp16 when the fp32 file is over 16 MiB. Returns what was written."""
    import torch

    from qualedge.weights.load import load_state_dict, read_metadata, save_state_dict

    sd, meta = load_state_dict(src), read_metadata(src)
    dtype = "fp32"
    if src.stat().st_size > MAX_FILE_BYTES:
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        dtype = "fp16"
    save_state_dict(dst, {k: v.to(torch.float16) if dtype == "fp16" and v.is_floating_point() else v for k, v in sd.items()}, metadata={**meta, "dtype": dtype})
    size = dst.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{dst}: {size / 2**20:.1f} MiB even in fp16, over the 16 MiB limit per file; use a smaller preset")
    return {"file": dst.name, "bytes": size, "dtype": dtype}


def run_recipe(name: str, out: str | Path, *, photos: list[str] | None = None, data_root: Path | None = None, tiny: bool = False,
               device: str = "auto", compile: bool = False, minutes: float = 9.0, log=print) -> dict[str, Any]:  # fmt: skip
    import torch

    from qualedge.atomic import atomic_write_json
    from qualedge.cli import main as cli

    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"device must be auto, cpu or cuda, got {device!r}")
    cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise ConfigError("device cuda: no CUDA device is visible to PyTorch; run with --device cpu (and --tiny to check the recipe)")
    recipe = RECIPES[name]
    if photos:
        folders = tuple(Path(p) for p in photos)
    elif data_root is not None:
        folders = recipe.default_photos(data_root)
    else:
        raise ConfigError(f"recipe {name}: give --photos FOLDER (training photos) or set QUALEDGE_DATA to the data folder")
    for f in folders:
        if not f.is_dir():
            raise ConfigError(f"recipe {name}: photo folder {f} does not exist")
    ctx = RecipeContext(out=Path(out), photos=folders, tiny=tiny, cuda=cuda, compile=compile, minutes=minutes)
    ctx.out.mkdir(parents=True, exist_ok=True)
    timings = []
    t_all = time.perf_counter()
    for args in recipe.steps(ctx):
        log("$ qualedge " + " ".join(args))
        t0 = time.perf_counter()
        rc = cli(args)
        if rc != 0:
            raise ConfigError(f"recipe {name}: step 'qualedge {args[0]}' failed with exit code {rc}")
        timings.append({"step": args[0], "seconds": time.perf_counter() - t0})
    wall = time.perf_counter() - t_all
    written = finalize(recipe.weights(ctx), ctx.out / f"{name}.safetensors")
    run_dir = ctx.out / "run"
    last: dict[str, Any] = {}
    if (run_dir / "metrics.csv").is_file():
        import csv

        rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
        last = rows[-1] if rows else {}
    elif (run_dir / "metrics.json").is_file():
        m = json.loads((run_dir / "metrics.json").read_text())
        last = {k: m[k] for k in ("heldout_srcc_with_teacher", "sr_pair_ranking", "train_tiles") if k in m}
    report = {
        "recipe": name, "summary": recipe.summary, "tiny": tiny, "photos": [str(f) for f in folders],
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
        "cuda": cuda, "torch": torch.__version__, "bf16_autocast": cuda, "channels_last": cuda, "compile": compile and cuda,
        "budget_minutes": minutes, "wall_seconds": wall, "steps": timings, "weights": written, "last_metrics": last,
    }  # fmt: skip
    atomic_write_json(ctx.out / "recipe.json", report)
    log(f"recipe {name}: {wall:.0f} s on {report['device']}; weights {written['file']} ({written['bytes'] / 2**20:.1f} MiB, {written['dtype']}) in {ctx.out}")
    return report


__all__ = ["RECIPES", "Recipe", "run_recipe", "finalize", "MAX_FILE_BYTES"]
