"""Training samples for SR: HR crops with a chosen ground truth and an LR input synthesised on the fly.

Sources: plain HR folders (one candidate per image: the original), multi-GT roots in HGGT's layout (also what
``qualedge make-multigt`` writes), and paired roots (``<root>/lr/<name>.png`` + ``<root>/hr/<name>.png``, e.g. what
``qualedge make-distill`` writes: the LR is used as is, no degradation). For each sample: a group is drawn, then a crop location (aligned to the scale),
then the ground truth by the sampling strategy (AMO scores that very crop in every candidate); the LR input is the
degradation (bicubic or blind Real-ESRGAN-style) of the *original* crop, so the input does not depend on the chosen
GT, as in HGGT. Random flips/rotations apply to both. Sample i of epoch e uses seed (seed, rank, e, i): runs are
reproducible and DDP ranks see different samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from qualedge.train.samplers import STRATEGIES, choose

from qualedge.errors import ConfigError, TrainingError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image


@dataclass(frozen=True)
class SRDataConfig:
    hr_folders: tuple[str, ...] = ()
    multigt_roots: tuple[str, ...] = ()
    paired_roots: tuple[str, ...] = ()
    scale: int = 4
    gt_size: int = 256
    degradation: str = "blind"  # "blind" | "bicubic"
    strategy: str = "orig_only"
    temperature: float = 1.0
    score_metric: str = "qhead"
    augment: bool = True
    seed: int = 0
    max_groups: int = 0
    bad_images: str = "skip"  # unreadable training images: "skip" (logged with their path) or "error"


@dataclass
class Group:
    name: str
    paths: list[Path]  # candidate 0 is the original
    labels: list[str]
    scores: list[float] = field(default_factory=list)
    lr_path: Path | None = None  # paired data: the given LR input


def load_groups(cfg: SRDataConfig) -> list[Group]:
    from qualedge.iqa.agreement.data import load_hggt

    groups: list[Group] = []
    for folder in cfg.hr_folders:
        p = Path(folder)
        if not p.is_dir():
            raise ConfigError(f"data.hr_folders: {p} is not a folder")
        for f in sorted(q for q in p.iterdir() if q.suffix.lower() in SUPPORTED_EXTENSIONS):
            groups.append(Group(f.stem, [f], ["Original"]))
    for root in cfg.multigt_roots:
        for g in load_hggt(root):
            keys = sorted(g.candidates)
            groups.append(Group(g.name, [g.original, *(g.candidates[k] for k in keys)], ["Original", *(g.label(k) for k in keys)]))
    for root in cfg.paired_roots:
        lr_dir, hr_dir = Path(root) / "lr", Path(root) / "hr"
        if not lr_dir.is_dir() or not hr_dir.is_dir():
            raise ConfigError(f"data.paired_roots: {root} needs lr/ and hr/ folders with matching file names")
        for f in sorted(q for q in hr_dir.iterdir() if q.suffix.lower() in SUPPORTED_EXTENSIONS):
            lr = lr_dir / f.name
            if not lr.is_file():
                raise ConfigError(f"{root}: {f.name} has no LR counterpart in lr/")
            groups.append(Group(f.stem, [f], ["Original"], lr_path=lr))
    if cfg.max_groups:
        groups = groups[: cfg.max_groups]
    if not groups:
        raise ConfigError("no training images: set data.hr_folders and/or data.multigt_roots")
    return groups


def score_groups(groups: list[Group], metric_id: str, *, progress: bool = True) -> None:
    """Precompute each candidate's whole-image IQA score (oriented: higher is better), through the score cache."""
    from qualedge.iqa.agreement.cache import ScoreCache
    from qualedge.iqa.agreement.runner import score_images
    from qualedge.iqa.metrics import get_spec

    spec = get_spec(metric_id)
    cache = ScoreCache()
    try:
        scores = score_images([p for g in groups for p in g.paths], [spec.id], cache, progress=progress)[spec.id]
    finally:
        cache.close()
    sign = 1.0 if spec.higher_is_better else -1.0
    for g in groups:
        g.scores = [sign * scores[p] for p in g.paths]


def _failed_path(g: Group, exc: BaseException) -> Path:
    """The file of ``g`` named in a read error's message (else its original)."""
    for p in [*g.paths, g.lr_path]:
        if p is not None and str(p) in str(exc):
            return p
    return g.paths[0]


class SRDataset(torch.utils.data.Dataset):
    """Map-style dataset of ``length`` samples per epoch; ``set_epoch`` changes the draw."""

    def __init__(self, cfg: SRDataConfig, groups: list[Group], *, length: int, rank: int = 0, crop_metric=None, log=print) -> None:
        if cfg.strategy not in STRATEGIES:
            raise ConfigError(f"data.strategy must be one of {STRATEGIES}, got {cfg.strategy!r}")
        if cfg.degradation not in ("blind", "bicubic"):
            raise ConfigError(f"data.degradation must be 'blind' or 'bicubic', got {cfg.degradation!r}")
        if cfg.gt_size % cfg.scale:
            raise ConfigError(f"data.gt_size {cfg.gt_size} must be a multiple of the scale {cfg.scale}")
        if cfg.strategy in ("sma", "smp") and any(not g.scores for g in groups):
            raise ConfigError(f"strategy {cfg.strategy} needs candidate scores: call score_groups first")
        from qualedge.train.bad_images import BadImages

        self.bad = BadImages(cfg.bad_images, log)
        sizes = {id(g): [self.bad.header(p) for p in g.paths + ([g.lr_path] if g.lr_path else [])] for g in groups}
        readable = [g for g in groups if all(s is not None for s in sizes[id(g)])]
        kept = [g for g in readable if min(sizes[id(g)][0]) >= cfg.gt_size]
        self.skipped = len(readable) - len(kept)  # images smaller than one crop (T91 has 76-pixel ones)
        if not kept:
            extra = f" ({len(self.bad.bad)} unreadable)" if self.bad.bad else ""
            raise ConfigError(f"no usable training image{extra}: every readable one is smaller than data.gt_size {cfg.gt_size}; lower gt_size or add larger images")
        self.cfg, self.groups, self.length, self.rank, self.epoch = cfg, kept, length, rank, 0
        self.crop_metric = crop_metric
        self._cache: dict[Path, np.ndarray] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def _img(self, p: Path) -> np.ndarray:
        if p not in self._cache:
            self._cache[p] = read_image(p).rgb
        return self._cache[p]

    def __getitem__(self, i: int):
        from qualedge.train.bad_images import READ_ERRORS

        rng = np.random.default_rng([self.cfg.seed, self.rank, self.epoch, i])
        def ok(g: Group) -> bool:
            return not any(p in self.bad.bad for p in g.paths)

        for _ in range(len(self.groups) + 1):  # every failed try marks one more file bad, so this ends
            g = self.groups[int(rng.integers(len(self.groups)))]
            if not ok(g):  # a file found unreadable earlier: draw among the readable ones
                good = [x for x in self.groups if ok(x)]
                if not good:
                    break
                g = good[int(rng.integers(len(good)))]
            try:
                return self._sample(g, rng)
            except READ_ERRORS as exc:  # pixels that cannot be decoded although the header could be read
                self.bad.report(Path(getattr(exc, "filename", None) or _failed_path(g, exc)), exc)
        raise TrainingError(f"no readable training image left ({len(self.bad.bad)} unreadable: {list(self.bad.bad)[:3]} ...)")

    def _sample(self, g: Group, rng: np.random.Generator):
        from qualedge.data.blind import bicubic_degrade, blind_degrade

        cfg = self.cfg
        orig = self._img(g.paths[0])
        h, w = orig.shape[:2]
        gs = cfg.gt_size
        if min(h, w) < gs:
            raise ConfigError(f"{g.paths[0]} is {w}x{h}, smaller than data.gt_size {gs}; lower gt_size or drop the image")
        y = int(rng.integers(0, (h - gs) // cfg.scale + 1)) * cfg.scale
        x = int(rng.integers(0, (w - gs) // cfg.scale + 1)) * cfg.scale

        def crop(k: int) -> np.ndarray:
            img = self._img(g.paths[k])
            if img.shape[:2] != (h, w):
                raise ConfigError(f"candidate {g.paths[k]} is {img.shape[1]}x{img.shape[0]}, the original {w}x{h}; candidates must align")
            return img[y : y + gs, x : x + gs]

        scorer = None
        if cfg.strategy == "amo":
            if self.crop_metric is None:
                raise ConfigError("amo needs a crop metric")

            def scorer(k: int) -> float:
                t = torch.from_numpy(np.ascontiguousarray(crop(k).transpose(2, 0, 1)))[None]
                s = float(self.crop_metric(t)[0])
                return s if self.crop_metric.spec.higher_is_better else -s

        k = choose(cfg.strategy, g.labels, rng, scores=g.scores or None, temperature=cfg.temperature, crop_scorer=scorer)
        gt = crop(k)
        if g.lr_path is not None:
            s = cfg.scale
            lr = self._img(g.lr_path)[y // s : (y + gs) // s, x // s : (x + gs) // s]
            if lr.shape[:2] != (gs // s, gs // s):
                raise ConfigError(f"{g.lr_path}: LR does not match its HR at scale {s}")
        else:
            src = crop(0)
            lr = blind_degrade(src, cfg.scale, rng) if cfg.degradation == "blind" else bicubic_degrade(src, cfg.scale)
        if cfg.augment:
            if rng.random() < 0.5:
                gt, lr = gt[:, ::-1], lr[:, ::-1]
            if rng.random() < 0.5:
                gt, lr = gt[::-1], lr[::-1]
            if rng.random() < 0.5:
                gt, lr = gt.transpose(1, 0, 2), lr.transpose(1, 0, 2)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))  # noqa: E731
        return to_t(lr), to_t(gt), k
