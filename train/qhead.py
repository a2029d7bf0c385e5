"""Train the quality head by distillation (``qualedge train-qhead``).

1. Tiles: random ``tile``-pixel crops of real photos; each crop gives a *chain* per degradation operator: the clean
   tile and ``levels`` copies of increasing strength (blur, noise, JPEG, downscale, haze, low light, and the rain and
   snow of the composite generator), so the quality order inside a chain is known. Super-resolved tiles join them
   (the head scores SR outputs as the AMO scorer and the LoRA reward, and LR tiles as the router): HR crops are
   downscaled x4 by area and super-resolved by each of ``sr_models`` (bicubic, ESPCN, the compact and the heavy
   model; :mod:`qualedge.train.sr_tiles`), and each ``tile``-pixel quarter gives a *group*: the HR tile and its SR
   versions, whose order only the teacher knows.
2. Teacher: one or more metric ids joined by ``+`` (default ``niqe+piqe``), each normalised to [0, 1] with its
   ``MetricSpec.normalize`` and averaged. Offline teachers are NIQE, PIQE and BRISQUE; with network any pyiqa metric
   (``pyiqa:musiq``) works. Teacher scores are cached in the output folder.
3. Loss: L1 to the teacher + ``rank_weight`` x a margin ranking loss on adjacent pairs of every chain (RankIQA-style)
   and on the pairs of each SR group that the teacher separates by at least ``sr_pair_gap``.
4. Report (``metrics.json``, ``MODEL_CARD.md``): on tiles from held-out images, SRCC with the teacher pooled, per
   family and per family and strength level (the pooled figure is inflated by the gaps between strength levels);
   the ranking accuracy on pairs of SR outputs of the same tile (against the teacher's order); SRCC with the known
   distortion order (per chain, averaged; the teacher's own figure alongside); CPU time per megapixel of the head
   against the teacher.
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
    ops: tuple[str, ...] = ("blur", "noise", "jpeg", "downscale", "haze", "lowlight", "rain", "snow")
    max_images: int = 0
    seed: int = 0
    sr_models: tuple[str, ...] = ("bicubic", "espcn-x4", "qualedge-compact-x4", "realesrgan-x4plus")
    sr_crops_per_image: int = 3  # HR crops of 2 * tile pixels per training photo (4 tiles each)
    sr_heldout_crops_per_image: int = 4
    sr_cache: str = ""  # SR tile cache folder (default <out>/sr_tiles); shareable with train-router
    sr_pair_gap: float = 0.03


@dataclass(frozen=True)
class QHeadTrain:
    epochs: int = 12
    batch: int = 48
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 1.0
    margin: float = 0.02
    seed: int = 0
    device: str = "cpu"  # "cpu" | "cuda" | "auto" (the teacher metric always runs on the CPU)
    amp: str = "none"  # "none" | "bf16" (autocast on CUDA)


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


def make_chains(files: list[Path], cfg: QHeadData, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tiles (N, 3, t, t) uint8, chain id per tile, level per tile (0 = clean), family (operator) per tile."""
    rng = np.random.default_rng(seed)
    tiles, chain, level, family = [], [], [], []
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
                    family.append(op)
                cid += 1
    if not tiles:
        raise TrainingError(f"no image of at least {cfg.tile}x{cfg.tile} pixels in the photo folders")
    return np.stack(tiles), np.asarray(chain), np.asarray(level), np.asarray(family)


def make_sr_groups(files: list[Path], cfg: QHeadData, cache: Path, *, crops: int, seed: int, first_group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SR groups (see the module docstring): tiles (N, 3, t, t) uint8, group id, level (0 = the HR tile, -1 = an SR
    output: no known order), family ("clean" or "sr:<model>")."""
    from qualedge.train.sr_tiles import make_sr_tiles

    if cfg.tile % 8:
        raise ConfigError(f"data.tile must be a multiple of 8 for the SR tiles (HR crops of 2 x tile, LR of tile / 2), got {cfg.tile}")
    st = make_sr_tiles(files, cache, lr=cfg.tile // 2, crops=crops, models=cfg.sr_models, seed=seed)
    t = cfg.tile
    tiles, group, level, family = [], [], [], []
    gid = first_group
    for i in range(len(st.hr)):
        for y in (0, t):
            for x in (0, t):
                for name, arr in [("clean", st.hr), *[(f"sr:{m}", st.sr[m]) for m in cfg.sr_models]]:
                    tiles.append(np.ascontiguousarray(arr[i, y : y + t, x : x + t].transpose(2, 0, 1)))
                    group.append(gid)
                    level.append(0 if name == "clean" else -1)
                    family.append(name)
                gid += 1
    return np.stack(tiles), np.asarray(group), np.asarray(level), np.asarray(family)


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
    """Index pairs (better, worse) of adjacent levels within each chain (tiles of unknown order, level < 0, excluded)."""
    known = np.flatnonzero(level >= 0)
    order = known[np.lexsort((level[known], chain[known]))]
    c, lv = chain[order], level[order]
    same = (c[:-1] == c[1:]) & (lv[1:] == lv[:-1] + 1)
    return np.stack([order[:-1][same], order[1:][same]], axis=1)


def _group_pairs(group: np.ndarray, mask: np.ndarray, score: np.ndarray, gap: float = 0.0) -> np.ndarray:
    """Index pairs (higher, lower by ``score``) of tiles in the same group where ``mask`` holds and the scores differ
    by more than ``gap``."""
    pairs = []
    idx = np.flatnonzero(mask)
    for g in np.unique(group[idx]):
        m = idx[group[idx] == g]
        for a in range(len(m)):
            for b in range(a + 1, len(m)):
                i, j = m[a], m[b]
                if abs(score[i] - score[j]) > gap:
                    pairs.append((i, j) if score[i] > score[j] else (j, i))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def sr_pair_accuracy(pred: np.ndarray, teacher: np.ndarray, group: np.ndarray, family: np.ndarray, gap: float = 0.0) -> dict:
    """Share of pairs of SR outputs of the same tile that the head orders as the teacher does (pairs the teacher
    separates by more than ``gap``)."""
    pairs = _group_pairs(group, np.char.startswith(family.astype(str), "sr:"), teacher, gap)
    if not len(pairs):
        return {"accuracy": float("nan"), "pairs": 0}
    return {"accuracy": float(np.mean(pred[pairs[:, 0]] > pred[pairs[:, 1]])), "pairs": int(len(pairs))}


def per_family_srcc(pred: np.ndarray, teacher: np.ndarray, family: np.ndarray, level: np.ndarray) -> dict:
    """SRCC with the teacher per family (all its strength levels; clean tiles are their own family) and per family
    and strength level."""
    out: dict[str, dict] = {}
    fam = np.where(level == 0, "clean", family)
    for f in dict.fromkeys(fam.tolist()):
        m = fam == f
        levels = {}
        for lv in sorted(set(level[m].tolist())):
            ml = m & (level == lv)
            if lv > 0 and ml.sum() > 2:
                levels[str(lv)] = {"srcc": _srcc(pred[ml], teacher[ml]), "tiles": int(ml.sum())}
        out[f] = {"srcc": _srcc(pred[m], teacher[m]) if m.sum() > 2 else float("nan"), "tiles": int(m.sum()), "levels": levels}
    return out


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


def split_files(cfg: QHeadConfig) -> tuple[list[Path], list[Path]]:
    """Training and held-out photos (the configured folders, the data folder's, or a seeded split)."""
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
    return train_files, held_files


def _key(cfg: QHeadConfig, train_files: list[Path], held_files: list[Path]) -> str:
    return hashlib.sha256(json.dumps([to_dict(cfg.data), cfg.teacher, [str(f) for f in train_files + held_files]]).encode()).hexdigest()[:16]


def make_tiles(cfg: QHeadConfig, files: list[Path], *, held: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Degradation chains and SR groups of ``files`` (tiles, chain/group id, level, family)."""
    seed = cfg.data.seed + (1 if held else 0)
    tiles, chain, level, fam = make_chains(files, cfg.data, seed)
    if cfg.data.sr_models:
        cache = (Path(cfg.data.sr_cache) if cfg.data.sr_cache else Path(cfg.out) / "sr_tiles") / ("heldout" if held else "train")
        crops = cfg.data.sr_heldout_crops_per_image if held else cfg.data.sr_crops_per_image
        parts = make_sr_groups(files, cfg.data, cache, crops=crops, seed=seed, first_group=int(chain.max()) + 1)
        tiles, chain, level, fam = (np.concatenate([a, b]) for a, b in zip((tiles, chain, level, fam), parts))
    return tiles, chain, level, fam


def heldout_figures(head: QualityHead, cfg: QHeadConfig, tiles, chain, level, fam, q) -> dict:
    """The card's held-out figures of one head (pooled, per family and level, SR pairs, known order)."""
    pred = predict(head, tiles)
    fam_srcc = per_family_srcc(pred, q, fam, level)
    chains = np.isin(chain, np.unique(chain[np.isin(fam, cfg.data.ops)])) & (level >= 0)
    return {
        "pooled": _srcc(pred, q),
        "lowest_family": min(((f, v["srcc"]) for f, v in fam_srcc.items()), key=lambda kv: kv[1]),
        "per_family": {f: v["srcc"] for f, v in fam_srcc.items()},
        "sr_pairs": sr_pair_accuracy(pred, q, chain, fam),
        "known_order": _order_srcc(pred[chains], chain[chains], level[chains]),
    }


def compare_heads(cfg: QHeadConfig, others: dict[str, str]) -> dict:
    """Evaluate other heads (label -> weights file, e.g. the shipped one) on this run's held-out tiles, next to the
    run's own head; writes ``comparison`` into metrics.json and a section into MODEL_CARD.md."""
    from qualedge.iqa.head import load_quality_head

    out = Path(cfg.out)
    train_files, held_files = split_files(cfg)
    tiles, chain, level, fam = make_tiles(cfg, held_files, held=True)
    q = _cached_teacher(out / "teacher_heldout.npz", _key(cfg, train_files, held_files), tiles, cfg.teacher, "teacher (held-out)")
    keep = ~np.isnan(q)
    tiles, chain, level, fam, q = (a[keep] for a in (tiles, chain, level, fam, q))
    heads = {"this run": str(out / "quality_head.safetensors"), **others}
    comp = {label: {"weights": w, **heldout_figures(load_quality_head(w), cfg, tiles, chain, level, fam, q)} for label, w in heads.items()}
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["comparison"] = comp
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_text(out / "MODEL_CARD.md", model_card(cfg, metrics))
    return comp


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
    train_files, held_files = split_files(cfg)
    key = _key(cfg, train_files, held_files)
    tr_tiles, tr_chain, tr_level, tr_fam = make_tiles(cfg, train_files, held=False)
    he_tiles, he_chain, he_level, he_fam = make_tiles(cfg, held_files, held=True)
    tr_q = _cached_teacher(out / "teacher_train.npz", key, tr_tiles, cfg.teacher, "teacher (train)")
    he_q = _cached_teacher(out / "teacher_heldout.npz", key, he_tiles, cfg.teacher, "teacher (held-out)")
    keep_tr, keep_he = ~np.isnan(tr_q), ~np.isnan(he_q)  # tiles where no teacher metric is defined (flat)
    tr_tiles, tr_chain, tr_level, tr_fam, tr_q = (a[keep_tr] for a in (tr_tiles, tr_chain, tr_level, tr_fam, tr_q))
    he_tiles, he_chain, he_level, he_fam, he_q = (a[keep_he] for a in (he_tiles, he_chain, he_level, he_fam, he_q))
    pairs = _rank_pairs(tr_chain, tr_level)
    is_group = tr_level < 0
    if is_group.any():  # teacher-ordered pairs inside each SR group (the HR tile and its SR versions)
        in_groups = np.isin(tr_chain, np.unique(tr_chain[is_group]))
        pairs = np.concatenate([pairs, _group_pairs(tr_chain, in_groups, tr_q, cfg.data.sr_pair_gap)])

    torch.manual_seed(cfg.train.seed)
    dev = torch.device("cuda" if cfg.train.device == "auto" and torch.cuda.is_available() else ("cpu" if cfg.train.device == "auto" else cfg.train.device))
    if cfg.train.amp not in ("none", "bf16"):
        raise ConfigError(f"train.amp must be 'none' or 'bf16', got {cfg.train.amp!r}")
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.train.amp == "bf16")
    head = QualityHead().to(dev)
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
            with autocast:
                pred = head(_to_float(tr_tiles[allidx]).to(dev)).float()
            n = len(idx)
            loss = l1(pred[:n], torch.from_numpy(tr_q[idx]).to(dev))
            if cfg.train.rank_weight > 0 and len(pidx):
                better, worse = pred[n : n + len(pidx)], pred[n + len(pidx) :]
                loss = loss + cfg.train.rank_weight * torch.relu(cfg.train.margin - (better - worse)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.4f}")
        he_pred = predict(head.cpu(), he_tiles)
        head.to(dev)
        history.append({"epoch": epoch + 1, "loss": total / steps_per_epoch, "heldout_srcc_teacher": _srcc(he_pred, he_q)})
        print(f"epoch {epoch + 1}: loss {total / steps_per_epoch:.4f}, held-out SRCC with teacher {history[-1]['heldout_srcc_teacher']:.3f}")

    head = head.cpu()
    save_state_dict(out / "quality_head.safetensors", head.state_dict(), metadata={"teacher": cfg.teacher, "qualedge": "quality_head"})
    he_pred = predict(head, he_tiles)
    per_op = {}
    for op in cfg.data.ops:
        m = np.isin(he_chain, np.unique(he_chain[he_fam == op]))  # the op's chains, clean tiles included
        per_op[op] = {"head": _order_srcc(he_pred[m], he_chain[m], he_level[m]), "teacher": _order_srcc(he_q[m], he_chain[m], he_level[m])}
    known = he_level >= 0
    chains = np.isin(he_chain, np.unique(he_chain[np.isin(he_fam, cfg.data.ops)]))  # degradation chains (not SR groups)
    photo = read_image(held_files[0]).rgb if held_files else None
    metrics = {
        "teacher": cfg.teacher,
        "train_images": len(train_files),
        "heldout_images": len(held_files),
        "train_tiles": int(len(tr_tiles)),
        "heldout_tiles": int(len(he_tiles)),
        "heldout_srcc_with_teacher": _srcc(he_pred, he_q),
        "heldout_srcc_per_family": per_family_srcc(he_pred, he_q, he_fam, he_level),
        "sr_pair_ranking": sr_pair_accuracy(he_pred, he_q, he_chain, he_fam),
        "sr_pair_ranking_gap_0.05": sr_pair_accuracy(he_pred, he_q, he_chain, he_fam, 0.05),
        "sr_models": list(cfg.data.sr_models),
        "heldout_srcc_with_known_order": _order_srcc(he_pred[known & chains], he_chain[known & chains], he_level[known & chains]),
        "teacher_srcc_with_known_order": _order_srcc(he_q[known & chains], he_chain[known & chains], he_level[known & chains]),
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


TARGETS = {"pooled": 0.92, "family": 0.8, "sr_pairs": 0.8, "speedup": 20.0}


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def model_card(cfg: QHeadConfig, m: dict) -> str:
    sp, t = m["speed"], TARGETS
    rows = "\n".join(f"| {op} | {v['head']:.3f} | {v['teacher']:.3f} |" for op, v in m["per_degradation_order_srcc"].items())
    fam = m.get("heldout_srcc_per_family", {})
    fam_rows = "\n".join(
        f"| {f} | {v['srcc']:.3f} | {v['tiles']} | " + ", ".join(f"{lv}: {x['srcc']:.2f}" for lv, x in v["levels"].items()) + " |"
        for f, v in fam.items()
    )
    worst = min(fam.items(), key=lambda kv: kv[1]["srcc"]) if fam else ("-", {"srcc": float("nan")})
    srp, srp5 = m.get("sr_pair_ranking", {"accuracy": float("nan"), "pairs": 0}), m.get("sr_pair_ranking_gap_0.05", {"accuracy": float("nan"), "pairs": 0})
    sr = ", ".join(m.get("sr_models", [])) or "none"
    return f"""# qualedge quality head

- **What**: a {m['params'] / 1e6:.2f} M-parameter CNN giving a quality map (one value per 16x16 cell, [0, 1], higher is better)
  in one forward pass; `create_metric("qhead")`. Its three jobs: the runtime's quality map (threshold routing, quality
  weighting, the restoration prompts), the AMO scorer of paper-1 training and the LoRA reward Q.
- **Teacher**: `{m['teacher']}` (each metric normalised with its `MetricSpec.normalize`, then averaged). The teacher's
  metrics are therefore **not independent** of anything this head scored or rewarded; judge such models with BRISQUE,
  PSNR/SSIM or human-aligned metrics as well.
- **Data**: {m['train_tiles']} training tiles ({cfg.data.tile} px) from {m['train_images']} photos in
  {', '.join(Path(f).name for f in m['train_folders'])}: {cfg.data.crops_per_image} crops per photo x {cfg.data.levels} strengths of
  {', '.join(cfg.data.ops)}; and SR groups ({cfg.data.sr_crops_per_image} HR crops of {2 * cfg.data.tile} px per photo, downscaled x4 by
  area, super-resolved by {sr}, cut into {cfg.data.tile}-px tiles with their HR tile). Held out: {m['heldout_tiles']} tiles from
  {m['heldout_images']} other photos ({', '.join(Path(f).parent.name + '/' + Path(f).name for f in m['heldout_folders'])}).
- **Loss**: L1 to the teacher + {cfg.train.rank_weight} x margin ranking ({cfg.train.margin}) on adjacent strengths of each chain
  and on the SR-group pairs the teacher separates by more than {cfg.data.sr_pair_gap}; {cfg.train.epochs} epochs of {cfg.train.batch},
  AdamW, one-cycle lr {cfg.train.lr}, seed {cfg.train.seed}.
- **Command**: `qualedge train-qhead --set out=...` with the defaults in `train/qhead.py` (this card is written by it).

## Measured on held-out tiles

| figure | value | target |
|---|---|---|
| SRCC with the teacher, pooled over all tiles | {m['heldout_srcc_with_teacher']:.3f} | >= {t['pooled']} ({_met(m['heldout_srcc_with_teacher'] >= t['pooled'])}) |
| lowest SRCC of a family (all its strengths) | {worst[1]['srcc']:.3f} ({worst[0]}) | >= {t['family']} ({_met(worst[1]['srcc'] >= t['family'])}) |
| ranking accuracy on pairs of SR outputs of the same tile (teacher's order) | {srp['accuracy'] * 100:.1f} % of {srp['pairs']} pairs | >= {t['sr_pairs'] * 100:.0f} % ({_met(srp['accuracy'] >= t['sr_pairs'])}) |
| the same, pairs the teacher separates by > 0.05 | {srp5['accuracy'] * 100:.1f} % of {srp5['pairs']} pairs | |
| SRCC with the known distortion order (per chain, mean) | {m['heldout_srcc_with_known_order']:.3f} | (teacher: {m['teacher_srcc_with_known_order']:.3f}) |
| CPU time per megapixel, head | {sp['head_s_per_mp'] * 1000:.1f} ms | |
| CPU time per megapixel, teacher on {cfg.data.tile}-px tiles | {sp['teacher_s_per_mp'] * 1000:.0f} ms | |
| speed-up | {sp['speedup']:.1f}x ({sp['threads']} threads) | >= {t['speedup']:.0f}x ({_met(sp['speedup'] >= t['speedup'])}) |

SRCC with the teacher per family (clean: the undistorted tiles; `sr:<model>`: that model's outputs) and per strength
level (within one level the gaps between levels cannot inflate it):

| family | SRCC, all strengths | tiles | per strength level |
|---|---|---|---|
{fam_rows}

Order SRCC per degradation (head vs teacher, against the known strength order):

| degradation | head | teacher |
|---|---|---|
{rows}

The ranking loss teaches the head orders that the teacher misses (NIQE and PIQE barely react to haze), so the head's
order figures can exceed the teacher's.
{_comparison(m)}"""


def _comparison(m: dict) -> str:
    comp = m.get("comparison")
    if not comp:
        return ""
    rows = "\n".join(
        f"| {label} | {v['pooled']:.3f} | {v['lowest_family'][1]:.3f} ({v['lowest_family'][0]}) | {v['sr_pairs']['accuracy'] * 100:.1f} % | {v['known_order']:.3f} |"
        for label, v in comp.items()
    )
    return f"""
## Against other heads on the same held-out tiles

Written by `qualedge.train.qhead.compare_heads` (the same tiles, teacher and figures as above).

| head | pooled SRCC | lowest family SRCC | SR-pair ranking | known-order SRCC |
|---|---|---|---|---|
{rows}
"""
