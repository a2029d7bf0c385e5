"""Train the quality head by distillation (``qualedge train-qhead``).

1. Tiles: random ``tile``-pixel crops of real photos; each crop gives a *chain* per degradation operator: the clean
   tile and ``levels`` copies of increasing strength (blur, noise, JPEG, downscale, haze, low light), so the quality
   order inside a chain is known.
2. Teacher: one or more metric ids joined by ``+`` (default ``niqe+piqe``), each normalised to [0, 1] with its
   ``MetricSpec.normalize`` and averaged. Offline teachers are NIQE, PIQE and BRISQUE; with network any pyiqa metric
   (``pyiqa:musiq``) works. Teacher scores are cached in the output folder.
3. Loss: L1 to the teacher + ``rank_weight`` x a margin ranking loss on adjacent pairs of every chain (RankIQA-style).
4. Report (``metrics.json``, ``MODEL_CARD.md``): on tiles from held-out images, SRCC with the teacher, SRCC with
   the known distortion order (per chain, averaged; the teacher's own figure alongside), and CPU time per megapixel
   of the head against the teacher.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge.atomic import atomic_write_json, atomic_write_text
from qualedge.config import to_dict
from qualedge.data.degradations import OPS, degrade
from qualedge.errors import ConfigError, TrainingError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image
from qualedge.iqa.head import QualityHead


@dataclass(frozen=True)
class QHeadData:
    folders: tuple[str, ...] = ()
    heldout_folders: tuple[str, ...] = ()
    heldout_fraction: float = 0.15
    tile: int = 128
    crops_per_image: int = 6
    levels: int = 3
    ops: tuple[str, ...] = ("blur", "noise", "jpeg", "downscale", "haze", "lowlight")
    max_images: int = 0
    seed: int = 0


@dataclass(frozen=True)
class QHeadTrain:
    epochs: int = 12
    batch: int = 48
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 1.0
    margin: float = 0.02
    seed: int = 0


@dataclass(frozen=True)
class QHeadConfig:
    teacher: str = "niqe+piqe"
    out: str = "runs/qhead"
    data: QHeadData = field(default_factory=QHeadData)
    train: QHeadTrain = field(default_factory=QHeadTrain)


def default_folders() -> tuple[list[Path], list[Path]]:
    """Training and held-out photo folders from the data folder (developers); users pass their own."""
    from qualedge import paths

    d = paths.shared_data_dir()
    if d is None:
        raise ConfigError(
            "train-qhead needs photos: pass --set data.folders=[\"/path/to/photos\"] (and optionally "
            "data.heldout_folders), or set QUALEDGE_DATA to a data folder."
        )
    img = d / "images"
    train = [img / "kodak24", img / "cbsd68", img / "bsd100" / "HR", img / "t91"]
    held = [img / "set14" / "HR", img / "set5" / "HR"]
    return [p for p in train if p.is_dir()], [p for p in held if p.is_dir()]


def _list_images(folders: list[Path]) -> list[Path]:
    files = []
    for f in folders:
        if not f.is_dir():
            raise ConfigError(f"photo folder {f} does not exist")
        files += sorted(p for p in f.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    return files


def make_chains(files: list[Path], cfg: QHeadData, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiles (N, 3, t, t) uint8, chain id per tile, level per tile (0 = clean)."""
    rng = np.random.default_rng(seed)
    tiles, chain, level = [], [], []
    cid = 0
    for f in files:
        img = read_image(f).rgb
        h, w = img.shape[:2]
        if min(h, w) < cfg.tile:
            continue
        for _ in range(cfg.crops_per_image):
            y, x = int(rng.integers(0, h - cfg.tile + 1)), int(rng.integers(0, w - cfg.tile + 1))
            crop = img[y : y + cfg.tile, x : x + cfg.tile]
            for op in cfg.ops:
                s = int(rng.integers(0, 2**31))
                for lv in range(cfg.levels + 1):
                    t = crop if lv == 0 else degrade(crop, op, lv / cfg.levels, s)
                    tiles.append((np.clip(t, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(2, 0, 1))
                    chain.append(cid)
                    level.append(lv)
                cid += 1
    if not tiles:
        raise TrainingError(f"no image of at least {cfg.tile}x{cfg.tile} pixels in the photo folders")
    return np.stack(tiles), np.asarray(chain), np.asarray(level)


class Teacher:
    """Average of normalised metric qualities, e.g. ``niqe+piqe``."""

    def __init__(self, spec: str) -> None:
        from qualedge.iqa.metrics import create_metric

        ids = [s.strip() for s in spec.split("+") if s.strip()]
        if not ids:
            raise ConfigError(f"teacher {spec!r}: name at least one metric")
        self.metrics = [create_metric(i) for i in ids]
        for m in self.metrics:
            if m.spec.mode != "NR":
                raise ConfigError(f"teacher metric {m.spec.id} is full-reference; the teacher must be no-reference")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the defined normalised qualities (NaN only where no metric is defined, e.g. a flat tile)."""
        return torch.stack([m.quality(x).float() for m in self.metrics]).nanmean(0)


def _to_float(t: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(t).float() / 255.0


def teacher_scores(tiles: np.ndarray, teacher: Teacher, batch: int = 64, desc: str = "teacher") -> np.ndarray:
    from tqdm import tqdm

    out = []
    for i in tqdm(range(0, len(tiles), batch), desc=desc, unit="batch", leave=False):
        out.append(teacher(_to_float(tiles[i : i + batch])).numpy())
    return np.concatenate(out).astype(np.float32)


def _cached_teacher(path: Path, key: str, tiles: np.ndarray, teacher_spec: str, desc: str) -> np.ndarray:
    if path.is_file():
        d = np.load(path)
        if str(d["key"]) == key:
            return d["scores"]
    scores = teacher_scores(tiles, Teacher(teacher_spec), desc=desc)
    import io

    buf = io.BytesIO()
    np.savez(buf, key=key, scores=scores)
    from qualedge.atomic import atomic_write_bytes

    atomic_write_bytes(path, buf.getvalue())
    return scores


def _rank_pairs(chain: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Index pairs (better, worse) of adjacent levels within each chain."""
    order = np.lexsort((level, chain))
    c, lv = chain[order], level[order]
    same = (c[:-1] == c[1:]) & (lv[1:] == lv[:-1] + 1)
    return np.stack([order[:-1][same], order[1:][same]], axis=1)


def _srcc(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).correlation)


def _order_srcc(scores: np.ndarray, chain: np.ndarray, level: np.ndarray) -> float:
    vals = []
    for c in np.unique(chain):
        m = chain == c
        if np.ptp(scores[m]) > 0:
            vals.append(_srcc(scores[m], -level[m]))
    return float(np.mean(vals)) if vals else float("nan")


def predict(head: QualityHead, tiles: np.ndarray, batch: int = 128) -> np.ndarray:
    head.eval()
    with torch.inference_mode():
        return torch.cat([head(_to_float(tiles[i : i + batch])) for i in range(0, len(tiles), batch)]).numpy()


def speed_ratio(head: QualityHead, teacher_spec: str, tile: int, photo: np.ndarray | None = None) -> dict:
    """CPU seconds per megapixel: the head's dense pass on a 1024x1024 image against the teacher on its tile grid."""
    from qualedge.iqa.quality_map import quality_map

    rng = np.random.default_rng(0)
    img = photo if photo is not None else rng.random((1024, 1024, 3), dtype=np.float32)
    img = np.ascontiguousarray(img[:1024, :1024])
    x = torch.from_numpy(img.transpose(2, 0, 1))[None].contiguous()
    mp = img.shape[0] * img.shape[1] / 1e6
    head.eval()
    with torch.inference_mode():
        head.cell_map(x)
        t0 = time.perf_counter()
        for _ in range(5):
            head.cell_map(x)
        t_head = (time.perf_counter() - t0) / 5 / mp
    teacher = Teacher(teacher_spec)
    t0 = time.perf_counter()
    for m in teacher.metrics:
        quality_map(img, m, tile=tile)
    t_teacher = (time.perf_counter() - t0) / mp
    return {"head_s_per_mp": t_head, "teacher_s_per_mp": t_teacher, "speedup": t_teacher / t_head, "threads": torch.get_num_threads()}


def train_qhead(cfg: QHeadConfig) -> dict:
    """Run the whole recipe; returns the metrics written to ``<out>/metrics.json``."""
    from tqdm import tqdm

    from qualedge.weights.load import save_state_dict

    for op in cfg.data.ops:
        if op not in OPS:
            raise ConfigError(f"data.ops: unknown degradation {op!r}; choose from {sorted(OPS)}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", to_dict(cfg))
    if cfg.data.folders:
        train_files = _list_images([Path(p) for p in cfg.data.folders])
        held_files = _list_images([Path(p) for p in cfg.data.heldout_folders]) if cfg.data.heldout_folders else []
    else:
        tf, hf = default_folders()
        train_files, held_files = _list_images(tf), _list_images(hf)
    rng = np.random.default_rng(cfg.data.seed)
    if not held_files:
        perm = rng.permutation(len(train_files))
        n_held = max(1, int(round(len(train_files) * cfg.data.heldout_fraction)))
        held_files = [train_files[i] for i in perm[:n_held]]
        train_files = [train_files[i] for i in perm[n_held:]]
    if cfg.data.max_images:
        train_files = train_files[: cfg.data.max_images]
        held_files = held_files[: max(1, cfg.data.max_images // 4)]

    key = hashlib.sha256(json.dumps([to_dict(cfg.data), cfg.teacher, [str(f) for f in train_files + held_files]]).encode()).hexdigest()[:16]
    tr_tiles, tr_chain, tr_level = make_chains(train_files, cfg.data, cfg.data.seed)
    he_tiles, he_chain, he_level = make_chains(held_files, cfg.data, cfg.data.seed + 1)
    tr_q = _cached_teacher(out / "teacher_train.npz", key, tr_tiles, cfg.teacher, "teacher (train)")
    he_q = _cached_teacher(out / "teacher_heldout.npz", key, he_tiles, cfg.teacher, "teacher (held-out)")
    keep_tr, keep_he = ~np.isnan(tr_q), ~np.isnan(he_q)  # tiles where no teacher metric is defined (flat)
    tr_tiles, tr_chain, tr_level, tr_q = tr_tiles[keep_tr], tr_chain[keep_tr], tr_level[keep_tr], tr_q[keep_tr]
    he_tiles, he_chain, he_level, he_q = he_tiles[keep_he], he_chain[keep_he], he_level[keep_he], he_q[keep_he]
    pairs = _rank_pairs(tr_chain, tr_level)

    torch.manual_seed(cfg.train.seed)
    head = QualityHead()
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    steps_per_epoch = max(1, len(tr_tiles) // cfg.train.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.train.lr, total_steps=cfg.train.epochs * steps_per_epoch)
    l1 = nn.L1Loss()
    gen = np.random.default_rng(cfg.train.seed)
    history = []
    for epoch in range(cfg.train.epochs):
        head.train()
        perm = gen.permutation(len(tr_tiles))
        pperm = gen.permutation(len(pairs))
        total = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.train.epochs}", leave=False)
        for step in bar:
            idx = perm[step * cfg.train.batch : (step + 1) * cfg.train.batch]
            pidx = pairs[pperm[(step * cfg.train.batch // 2) % len(pairs) :][: cfg.train.batch // 2]]
            allidx = np.concatenate([idx, pidx[:, 0], pidx[:, 1]])
            pred = head(_to_float(tr_tiles[allidx]))
            n = len(idx)
            loss = l1(pred[:n], torch.from_numpy(tr_q[idx]))
            if cfg.train.rank_weight > 0 and len(pidx):
                better, worse = pred[n : n + len(pidx)], pred[n + len(pidx) :]
                loss = loss + cfg.train.rank_weight * torch.relu(cfg.train.margin - (better - worse)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        he_pred = predict(head, he_tiles)
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "heldout_srcc_teacher": _srcc(he_pred, he_q)})
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f}, held-out SRCC with teacher {history[-1]['heldout_srcc_teacher']:.3f}")

    save_state_dict(out / "quality_head.safetensors", head.state_dict(), metadata={"teacher": cfg.teacher, "qualedge": "quality_head"})
    he_pred = predict(head, he_tiles)
    per_op = {}
    ops_of_chain = np.asarray([cfg.data.ops[c % len(cfg.data.ops)] for c in he_chain])
    for op in cfg.data.ops:
        m = ops_of_chain == op
        per_op[op] = {"head": _order_srcc(he_pred[m], he_chain[m], he_level[m]), "teacher": _order_srcc(he_q[m], he_chain[m], he_level[m])}
    photo = read_image(held_files[0]).rgb if held_files else None
    metrics = {
        "teacher": cfg.teacher,
        "train_images": len(train_files),
        "heldout_images": len(held_files),
        "train_tiles": int(len(tr_tiles)),
        "heldout_tiles": int(len(he_tiles)),
        "heldout_srcc_with_teacher": _srcc(he_pred, he_q),
        "heldout_srcc_with_known_order": _order_srcc(he_pred, he_chain, he_level),
        "teacher_srcc_with_known_order": _order_srcc(he_q, he_chain, he_level),
        "per_degradation_order_srcc": per_op,
        "speed": speed_ratio(head, cfg.teacher, cfg.data.tile, photo if photo is not None and min(photo.shape[:2]) >= 256 else None),
        "params": sum(p.numel() for p in head.parameters()),
        "history": history,
        "train_folders": sorted({str(f.parent) for f in train_files}),
        "heldout_folders": sorted({str(f.parent) for f in held_files}),
    }
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_text(out / "MODEL_CARD.md", model_card(cfg, metrics))
    return metrics


def model_card(cfg: QHeadConfig, m: dict) -> str:
    sp = m["speed"]
    rows = "\n".join(
        f"| {op} | {v['head']:.3f} | {v['teacher']:.3f} |" for op, v in m["per_degradation_order_srcc"].items()
    )
    return f"""# qualedge quality head

- **What**: a {m['params'] / 1e6:.2f} M-parameter CNN giving a quality map (one value per 16x16 cell, [0, 1], higher is better)
  in one forward pass; `create_metric("qhead")`, also the runtime's default quality map and an offline reward Q.
- **Teacher**: `{m['teacher']}` (each metric normalised with its `MetricSpec.normalize`, then averaged).
- **Data**: {m['train_tiles']} training tiles ({cfg.data.tile} px, {cfg.data.crops_per_image} crops per photo, {cfg.data.levels} strengths of
  {', '.join(cfg.data.ops)}) from {m['train_images']} photos in {', '.join(Path(f).name for f in m['train_folders'])};
  held out: {m['heldout_tiles']} tiles from {m['heldout_images']} other photos ({', '.join(Path(f).name for f in m['heldout_folders'])}).
- **Loss**: L1 to the teacher + {cfg.train.rank_weight} x margin ranking ({cfg.train.margin}) on adjacent strengths; {cfg.train.epochs} epochs, AdamW, one-cycle lr {cfg.train.lr}.
- **Command**: `qualedge train-qhead --set out=... ` with the defaults in `train/qhead.py` (this card is written by it).

## Measured on held-out tiles

| figure | value | target |
|---|---|---|
| SRCC with the teacher | {m['heldout_srcc_with_teacher']:.3f} | >= 0.9 |
| SRCC with the known distortion order (per chain, mean) | {m['heldout_srcc_with_known_order']:.3f} | (teacher: {m['teacher_srcc_with_known_order']:.3f}) |
| CPU time per megapixel, head | {sp['head_s_per_mp'] * 1000:.1f} ms | |
| CPU time per megapixel, teacher on {cfg.data.tile}-px tiles | {sp['teacher_s_per_mp'] * 1000:.0f} ms | |
| speed-up | {sp['speedup']:.1f}x ({sp['threads']} threads) | >= 20x |

Order SRCC per degradation (head vs teacher):

| degradation | head | teacher |
|---|---|---|
{rows}

The ranking loss teaches the head orders that the teacher misses (NIQE and PIQE barely react to haze), so the head's
order figures can exceed the teacher's.
"""
