"""Restoration training data: synthetic composite degradations of clean photos, or published paired datasets.

Synthetic: random crops of clean photos, a CDD-11 type drawn uniformly (or from ``types``), strength in [0.5, 1],
seeded per sample. Paired layouts (user paths; files are matched by name):
- ``cdd11``: ``<root>/<split>/clear/<n>.png`` and ``<root>/<split>/<type>/<n>.png`` for the 11 types (OneRestore);
- ``allweather``: ``<root>/input/<n>`` and ``<root>/gt/<n>`` (TransWeather's AllWeather);
- ``outdoor_rain``: ``<root>/in1/<n>`` and ``<root>/gt1/<n>`` (Outdoor-Rain Test1);
- ``snow100k``: ``<root>/synthetic/<n>`` and ``<root>/gt/<n>``;
- ``raindrop``: ``<root>/data/<id>_rain.<ext>`` and ``<root>/gt/<id>_clean.<ext>`` (id = text before the first '_').
The quality map for a sample is computed by the caller (the quality head on the degraded crop).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from qualedge.data.degradations.composite import TYPES, composite
from qualedge.errors import ConfigError, TrainingError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image

LAYOUTS = ("cdd11", "allweather", "outdoor_rain", "snow100k", "raindrop")


@dataclass(frozen=True)
class RestoreDataConfig:
    clean_folders: tuple[str, ...] = ()
    paired_layout: str | None = None
    paired_root: str | None = None
    split: str = "train"
    types: tuple[str, ...] = TYPES
    gt_size: int = 128
    strength: float = 1.0
    seed: int = 0
    bad_images: str = "skip"  # unreadable training images: "skip" (logged with their path) or "error"


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)


def load_pairs(layout: str, root: str | Path, split: str = "train") -> list[tuple[Path, Path, str]]:
    """(degraded, clean, type) triples of a published layout."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    pairs: list[tuple[Path, Path, str]] = []
    if layout == "cdd11":
        base = root / split
        clean = {p.stem: p for p in _images(base / "clear")}
        for t in TYPES:
            if (base / t).is_dir():
                pairs += [(p, clean[p.stem], t) for p in _images(base / t) if p.stem in clean]
    elif layout == "raindrop":
        gts = {p.name.split("_")[0]: p for p in _images(root / "gt")}
        pairs = [(p, gts[p.name.split("_")[0]], "raindrop") for p in _images(root / "data") if p.name.split("_")[0] in gts]
    else:
        a, b = {"allweather": ("input", "gt"), "outdoor_rain": ("in1", "gt1"), "snow100k": ("synthetic", "gt")}[layout]
        gts = {p.stem: p for p in _images(root / b)}
        pairs = [(p, gts[p.stem], layout) for p in _images(root / a) if p.stem in gts]
    if not pairs:
        raise ConfigError(f"{root}: no matching degraded/clean pairs in the {layout} layout")
    return pairs


class RestoreDataset(torch.utils.data.Dataset):
    """Samples (degraded, clean, type index); ``length`` per epoch, seeded by (seed, rank, epoch, i)."""

    def __init__(self, cfg: RestoreDataConfig, *, length: int, rank: int = 0, log=print) -> None:
        unknown = set(cfg.types) - set(TYPES)
        if unknown:
            raise ConfigError(f"data.types: unknown {sorted(unknown)}; choose from {TYPES}")
        if cfg.gt_size % 16:
            raise ConfigError(f"data.gt_size {cfg.gt_size} must be a multiple of 16 (the U-Net's four downsamplings)")
        self.cfg, self.length, self.rank, self.epoch = cfg, length, rank, 0
        from qualedge.train.bad_images import BadImages

        self.bad = BadImages(cfg.bad_images, log)
        clean = [p for f in cfg.clean_folders for p in _images(Path(f))]
        sizes = {p: self.bad.header(p) for p in clean}
        readable = [p for p in clean if sizes[p] is not None]
        self.clean = [p for p in readable if min(sizes[p]) >= cfg.gt_size]
        self.skipped = len(readable) - len(self.clean)  # photos smaller than a crop (T91 has 78-pixel ones)
        pairs = load_pairs(cfg.paired_layout, cfg.paired_root, cfg.split) if cfg.paired_layout else []
        self.pairs = [t for t in pairs if self.bad.header(t[0]) is not None and self.bad.header(t[1]) is not None]
        if not self.clean and not self.pairs:
            extra = f" ({self.skipped} photos are smaller than data.gt_size {cfg.gt_size})" if self.skipped else ""
            raise ConfigError(f"no restoration data{extra}: set data.clean_folders and/or data.paired_layout + data.paired_root")
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

        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, self.rank, self.epoch, i])
        def ok(pick) -> bool:
            return not any(p in self.bad.bad for p in pick[:2])

        for _ in range(len(self.pairs) + len(self.clean) + 1):  # every failed try marks one more file bad, so this ends
            use_pairs = bool(self.pairs) and (not self.clean or rng.random() < 0.5)
            pool = self.pairs if use_pairs else [(p,) for p in self.clean]
            pick = pool[int(rng.integers(len(pool)))]
            if not ok(pick):  # a file found unreadable earlier: draw among the readable ones
                good = [x for x in pool if ok(x)]
                if not good:
                    break
                pick = good[int(rng.integers(len(good)))]
            files = pick[:2]
            try:
                imgs = [self._img(p) for p in files]
            except READ_ERRORS as exc:  # pixels that cannot be decoded although the header could be read
                self.bad.report(next((p for p in files if str(p) in str(exc)), files[0]), exc)
                continue
            return self._sample(imgs, pick[2] if use_pairs else None, rng)
        raise TrainingError(f"no readable training image left ({len(self.bad.bad)} unreadable: {list(self.bad.bad)[:3]} ...)")

    def _sample(self, imgs: list[np.ndarray], pair_kind: str | None, rng: np.random.Generator):
        cfg = self.cfg
        gs = cfg.gt_size
        use_pairs = pair_kind is not None
        if use_pairs:
            deg_full, clean_full = imgs
            kind = pair_kind
            h, w = min(deg_full.shape[0], clean_full.shape[0]), min(deg_full.shape[1], clean_full.shape[1])
        else:
            clean_full = imgs[0]
            h, w = clean_full.shape[:2]
            kind = cfg.types[int(rng.integers(len(cfg.types)))]
        if min(h, w) < gs:
            raise ConfigError(f"an image is {w}x{h}, smaller than data.gt_size {gs}")
        y, x = int(rng.integers(0, h - gs + 1)), int(rng.integers(0, w - gs + 1))
        clean = clean_full[y : y + gs, x : x + gs]
        deg = deg_full[y : y + gs, x : x + gs] if use_pairs else composite(clean, kind, rng, cfg.strength)
        if rng.random() < 0.5:
            clean, deg = clean[:, ::-1], deg[:, ::-1]
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))  # noqa: E731
        return to_t(deg), to_t(clean), TYPES.index(kind) if kind in TYPES else -1
