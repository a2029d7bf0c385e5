"""Measure what predicts where the heavy SR model helps, and train the gain head (``qualedge train-router``).

1. Data: LR crops of real photos (x4 area downscaling, :mod:`qualedge.train.sr_tiles`), each super-resolved by the
   compact and the heavy model exactly as the runtime runs a tile.
2. The true per-tile benefit: **log10 of the mean squared difference between the heavy and the compact output**
   (what routing a tile to the heavy model changes; the quantity "PSNR to the heavy-only output" integrates). Two
   no-reference views of the benefit are reported next to it: the NIQE gain and the PIQE gain (score of the
   compact output minus score of the heavy output; lower is better for both).
3. Candidate routing signals on the LR tile (what the runtime can compute before running either model): the
   quality head (1 - quality), gradient energy, block variance, edge density (qualedge/routing.py), and the gain
   head trained here on the training photos' cell-level targets (8x8 LR cells; L1 + a ranking loss on tile means).
4. Report (``metrics.json``, ``MODEL_CARD.md``): Spearman correlation (SRCC) of each signal with each benefit on
   tiles of held-out photos, the gain head's cost relative to the heavy model, data and settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from qualedge.atomic import atomic_write_json, atomic_write_text
from qualedge.config import to_dict
from qualedge.errors import ConfigError, QualedgeError


@dataclass(frozen=True)
class RouterData:
    folders: tuple[str, ...] = ()
    heldout_folders: tuple[str, ...] = ()
    lr_tile: int = 64
    crops_per_image: int = 3
    heldout_crops_per_image: int = 4
    compact: str = "qualedge-compact-x4"
    heavy: str = "realesrgan-x4plus"
    cache: str = ""  # SR tile cache folder (default: <out>/sr_tiles); shareable with train-qhead
    seed: int = 0
    threads: int = 0


@dataclass(frozen=True)
class RouterTrain:
    steps: int = 3000
    batch: int = 32
    lr: float = 2e-3
    rank_weight: float = 0.5
    seed: int = 0


@dataclass(frozen=True)
class RouterConfig:
    out: str = "runs/router"
    data: RouterData = field(default_factory=RouterData)
    train: RouterTrain = field(default_factory=RouterTrain)


def _f32(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) / 255.0


def cell_targets(heavy: np.ndarray, compact: np.ndarray, cell_hr: int) -> np.ndarray:
    """(N, S, S, 3) uint8 x2 -> (N, S/cell, S/cell) log10 MSE per HR cell."""
    d = (_f32(heavy) - _f32(compact)) ** 2
    n, s = d.shape[:2]
    g = s // cell_hr
    mse = d[:, : g * cell_hr, : g * cell_hr].reshape(n, g, cell_hr, g, cell_hr, 3).mean(axis=(2, 4, 5))
    return np.log10(mse + 1e-6).astype(np.float32)


def tile_benefit(heavy: np.ndarray, compact: np.ndarray) -> np.ndarray:
    return np.log10(((_f32(heavy) - _f32(compact)) ** 2).mean(axis=(1, 2, 3)) + 1e-6)


def nr_gain(metric_id: str, heavy: np.ndarray, compact: np.ndarray, batch: int = 16) -> np.ndarray:
    """Score(compact) - score(heavy) for a lower-is-better metric (positive: the heavy output is better)."""
    from qualedge.iqa.metrics import create_metric

    m = create_metric(metric_id)

    def scores(a: np.ndarray) -> np.ndarray:
        return torch.cat([m(torch.from_numpy(_f32(a[i : i + batch]).transpose(0, 3, 1, 2).copy())).float() for i in range(0, len(a), batch)]).numpy()

    sign = -1.0 if m.spec.higher_is_better else 1.0
    return sign * (scores(compact) - scores(heavy))


def signals(lr: np.ndarray, gain_head: torch.nn.Module | None) -> dict[str, np.ndarray]:
    """Every candidate routing signal on (N, t, t, 3) uint8 LR tiles (higher = route to heavy first)."""
    from qualedge.iqa.head import load_quality_head
    from qualedge.routing import STATISTICS

    x = torch.from_numpy(_f32(lr).transpose(0, 3, 1, 2).copy())
    out = {name: fn(x.numpy()) for name, fn in STATISTICS.items()}
    head = load_quality_head()
    with torch.inference_mode():
        out["quality"] = 1.0 - torch.cat([head(x[i : i + 64]) for i in range(0, len(x), 64)]).numpy()
        if gain_head is not None:
            out["gain"] = torch.cat([gain_head(x[i : i + 64]).flatten(1).mean(1) for i in range(0, len(x), 64)]).numpy()
    return out


def _srcc(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[ok], b[ok]).correlation)


def _augment(x: torch.Tensor, y: torch.Tensor, k: int, flip: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (1, 2))
    if flip:
        x, y = x.flip(3), y.flip(2)
    return x, y


def train_gain_head(lr: np.ndarray, targets: np.ndarray, cfg: RouterTrain, log=print) -> torch.nn.Module:
    from qualedge.archs import build_model

    torch.manual_seed(cfg.seed)
    gen = np.random.default_rng(cfg.seed)
    net, _ = build_model("gain_head")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps)
    x_all = torch.from_numpy(_f32(lr).transpose(0, 3, 1, 2).copy())
    y_all = torch.from_numpy(targets)
    net.train()
    for step in range(cfg.steps):
        idx = torch.from_numpy(gen.choice(len(x_all), size=min(cfg.batch, len(x_all)), replace=False))
        x, y = _augment(x_all[idx], y_all[idx], int(gen.integers(0, 4)), bool(gen.integers(0, 2)))
        pred = net(x)[:, 0]
        loss = (pred - y).abs().mean()
        if cfg.rank_weight > 0:
            pm, ym = pred.flatten(1).mean(1), y.flatten(1).mean(1)
            sgn = torch.sign(ym[:, None] - ym[None, :])
            loss = loss + cfg.rank_weight * torch.relu(0.05 - sgn * (pm[:, None] - pm[None, :])).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % 500 == 0 or step == 0:
            log(f"step {step + 1}/{cfg.steps}: loss {loss.item():.4f}")
    return net.eval()


def _cost(net: torch.nn.Module, heavy_id: str, side: int = 256) -> dict:
    """Seconds per LR megapixel of the gain head and of the heavy model, same process and threads."""
    from qualedge.weights.zoo import load_pretrained

    x = torch.rand(1, 3, side, side)
    heavy, _ = load_pretrained(heavy_id)

    def per_mp(fn, reps: int) -> float:
        with torch.inference_mode():
            fn(x)
            t0 = time.perf_counter()
            for _ in range(reps):
                fn(x)
        return (time.perf_counter() - t0) / reps / (side * side / 1e6)

    g = per_mp(net, 10)
    h = per_mp(heavy, 1)
    return {"gain_head_s_per_lr_mp": g, "heavy_s_per_lr_mp": h, "share_of_heavy": g / h, "threads": torch.get_num_threads()}


def train_router(cfg: RouterConfig, log=print) -> dict:
    from qualedge.train.qhead import _list_images, default_folders
    from qualedge.train.sr_tiles import make_sr_tiles

    from qualedge.weights.load import save_state_dict

    d = cfg.data
    if d.lr_tile % 8:
        raise ConfigError(f"data.lr_tile must be a multiple of 8 (the gain head's cell), got {d.lr_tile}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", to_dict(cfg))
    if d.folders:
        train_files = _list_images([Path(p) for p in d.folders])
        held_files = _list_images([Path(p) for p in d.heldout_folders])
        if not held_files:
            raise ConfigError("data.heldout_folders: name photo folders not among data.folders (the SRCC is measured there)")
    else:
        tf, hf = default_folders()
        train_files, held_files = _list_images(tf), _list_images(hf)
    cache = Path(d.cache) if d.cache else out / "sr_tiles"
    models = (d.compact, d.heavy)
    kw = dict(lr=d.lr_tile, models=models, threads=d.threads or None, log=log)
    tr = make_sr_tiles(train_files, cache / "train", crops=d.crops_per_image, seed=d.seed, **kw)
    he = make_sr_tiles(held_files, cache / "heldout", crops=d.heldout_crops_per_image, seed=d.seed + 1, **kw)
    cell_hr = 8 * 4
    targets = cell_targets(tr.sr[d.heavy], tr.sr[d.compact], cell_hr)
    log(f"training the gain head on {len(tr.lr)} crops ({targets.size} cells) of {len(set(tr.photo.tolist()))} photos")
    net = train_gain_head(tr.lr, targets, cfg.train, log=log)
    save_state_dict(out / "gain_head.safetensors", net.state_dict(), metadata={"arch_id": "gain_head", "target": "log10 mse(heavy, compact) per 8x8 LR cell"})

    from qualedge.iqa.metrics import get_spec

    benefit = {"log10_mse_heavy_vs_compact": tile_benefit(he.sr[d.heavy], he.sr[d.compact])}
    missing = {}
    for mid in ("niqe", "piqe"):  # NR views of the benefit, where the HR tile is large enough and the metric's files exist
        if 4 * d.lr_tile >= get_spec(mid).min_size:
            try:
                benefit[f"{mid}_gain"] = nr_gain(mid, he.sr[d.heavy], he.sr[d.compact])
            except QualedgeError as exc:
                missing[mid] = str(exc).splitlines()[0]
                log(f"{mid} gain not measured: {missing[mid]}")
    sig = signals(he.lr, net)
    table = {s: {b: _srcc(v, bv) for b, bv in benefit.items()} for s, v in sig.items()}
    train_sig = signals(tr.lr, net)
    train_table = {s: _srcc(v, tile_benefit(tr.sr[d.heavy], tr.sr[d.compact])) for s, v in train_sig.items()}
    best = max(table, key=lambda s: table[s]["log10_mse_heavy_vs_compact"])
    metrics = {
        "target": "log10 of the mean squared difference between the heavy and the compact x4 output of a tile",
        "compact": d.compact,
        "heavy": d.heavy,
        "lr_tile": d.lr_tile,
        "train_photos": len(set(tr.photo.tolist())),
        "train_crops": len(tr.lr),
        "heldout_photos": len(set(he.photo.tolist())),
        "heldout_crops": len(he.lr),
        "train_folders": sorted({str(Path(f).parent) for f in tr.files}),
        "heldout_folders": sorted({str(Path(f).parent) for f in he.files}),
        "heldout_srcc": table,
        "train_srcc_with_target": train_table,
        "best_signal": best,
        "missing_metrics": missing,
        "cost": _cost(net, d.heavy),
        "params": sum(p.numel() for p in net.parameters()),
    }
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_text(out / "MODEL_CARD.md", model_card(cfg, metrics))
    return metrics


def model_card(cfg: RouterConfig, m: dict) -> str:
    names = {"gain": "gain head (learned)", "quality": "quality head (1 - quality)", "gradient": "gradient energy", "variance": "block variance", "edges": "edge density"}
    def cell(v: dict, k: str) -> str:
        return f"{v[k]:.3f}" if k in v else "n/a (tile below the metric's minimum size, or its files absent)"

    rows = "\n".join(
        f"| {names.get(s, s)} | {v['log10_mse_heavy_vs_compact']:.3f} | {cell(v, 'niqe_gain')} | {cell(v, 'piqe_gain')} | {m['train_srcc_with_target'][s]:.3f} |"
        for s, v in sorted(m["heldout_srcc"].items(), key=lambda kv: -kv[1]["log10_mse_heavy_vs_compact"])
    )
    c = m["cost"]
    return f"""# qualedge gain head (tile router)

- **What**: a {m['params'] / 1e3:.0f} k-parameter CNN on the LR tile that predicts, per 8x8 LR cell, log10 of the mean
  squared difference between the heavy ({m['heavy']}) and the compact ({m['compact']}) model's x4 output. A tile's
  routing score is the mean of its cells; `--policy adaptive --heavy-fraction F` sends the F share of tiles with the
  highest scores to the heavy model.
- **Target** (the true per-tile benefit): {m['target']}. Its no-reference views, NIQE gain and PIQE gain (score of the
  compact output minus score of the heavy output), are reported too; they did not train anything here.
- **Data**: {m['train_crops']} LR crops of {m['lr_tile']} px ({cfg.data.crops_per_image} per photo, x4 area downscaling) from
  {m['train_photos']} photos in {', '.join(Path(f).name for f in m['train_folders'])}; held out: {m['heldout_crops']} crops of
  {m['heldout_photos']} other photos ({', '.join(Path(f).parent.name + '/' + Path(f).name for f in m['heldout_folders'])}).
- **Training**: L1 on the cell targets + {cfg.train.rank_weight} x a margin ranking loss on tile means; {cfg.train.steps} steps of
  {cfg.train.batch}, AdamW, one-cycle lr {cfg.train.lr}, rotations and flips; seed {cfg.train.seed}.
- **Command**: `qualedge train-router --set out=...` with the defaults in `train/router.py` (this card is written by it).

## Which signal predicts the benefit (SRCC on held-out tiles; higher is better)

| signal | with log10 MSE(heavy, compact) | with NIQE gain | with PIQE gain | training tiles, with the target |
|---|---|---|---|---|
{rows}

Best on held-out tiles: **{names.get(m['best_signal'], m['best_signal'])}**.

## Cost

Gain head {c['gain_head_s_per_lr_mp'] * 1000:.1f} ms per LR megapixel against {c['heavy_s_per_lr_mp']:.1f} s for the heavy model
({c['share_of_heavy'] * 100:.2f} % of it; PyTorch, {c['threads']} CPU threads, same process). Its share of end-to-end time in
the runtime is measured by `qualedge bench routing`.
"""
