"""Loaders for human-judgement data in the two published layouts.

SBS180K style (pairwise preferences): a manifest, CSV or JSON, one row per pair with the columns
``a``, ``b`` (image paths, relative to the manifest's folder or absolute), ``p_b`` (fraction of people preferring
b, in [0, 1]) and ``split`` (for example train/test; optional, default "all"). Aliases accepted for the columns:
img_a/image_a, img_b/image_b, pref_b/prob_b. A column ``p_a`` (fraction preferring a) is converted to p_b = 1 - p_a.

HGGT (multi-ground-truth groups with labels): ``<root>/images/<part>/original/<name>.png``,
``<root>/images/<part>/<NN>/<name>_<NN>.png`` for the enhanced versions 01..04, and one JSON per annotator
``<root>/labels/<part>/{A,B,C}/<name>.json`` with "Picture_1".."Picture_5" entries {"File", "Label"}; the first is
the original (Label null), the others carry Positive/Similar/Negative. The effective label is the majority of the
annotators; when all differ it is Similar (HGGT's aggregation rule).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from qualedge.errors import ConfigError

LABELS = ("Positive", "Similar", "Negative")
# ordinal used for SRCC: Negative 0, Original/Similar 1, Positive 2
ORDINAL = {"Negative": 0, "Similar": 1, "Original": 1, "Positive": 2}


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    p_b: float
    split: str = "all"


@dataclass
class Group:
    name: str
    original: Path
    candidates: dict[str, Path] = field(default_factory=dict)  # "01" -> path
    votes: dict[str, list[str]] = field(default_factory=dict)  # "01" -> ["Positive", "Similar", ...]

    def label(self, key: str) -> str:
        """Majority of the annotators; all different (or no majority) -> Similar."""
        votes = self.votes.get(key, [])
        if not votes:
            return "Similar"
        (top, n), *rest = Counter(votes).most_common()
        if n * 2 > len(votes):
            return top
        return "Similar"


_A, _B, _P = ("a", "img_a", "image_a"), ("b", "img_b", "image_b"), ("p_b", "pref_b", "prob_b")


def _pick(row: dict, names: tuple[str, ...]) -> str | None:
    for n in names:
        if n in row and row[n] not in (None, ""):
            return str(row[n])
    return None


def load_sbs(manifest: str | Path) -> list[Pair]:
    """Read an SBS-style manifest (CSV or JSON list of objects)."""
    path = Path(manifest)
    if not path.is_file():
        raise ConfigError(f"SBS manifest {path} not found")
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text())
        if not isinstance(rows, list):
            raise ConfigError(f"{path}: the JSON manifest must be a list of objects")
    else:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    pairs, missing = [], []
    for i, row in enumerate(rows, start=1):
        a, b = _pick(row, _A), _pick(row, _B)
        pb = _pick(row, _P)
        if pb is None and _pick(row, ("p_a",)) is not None:
            pb = str(1.0 - float(_pick(row, ("p_a",)) or 0))
        if a is None or b is None or pb is None:
            raise ConfigError(f"{path}: row {i} lacks a, b or p_b (columns found: {sorted(row)})")
        try:
            p = float(pb)
        except ValueError as exc:
            raise ConfigError(f"{path}: row {i}: p_b={pb!r} is not a number") from exc
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"{path}: row {i}: p_b={p} must be a fraction in [0, 1]")
        pa, pbp = (path.parent / a).resolve(), (path.parent / b).resolve()
        for q in (pa, pbp):
            if not q.is_file():
                missing.append(str(q))
        pairs.append(Pair(pa, pbp, p, str(row.get("split") or "all")))
    if missing:
        raise ConfigError(f"{path}: {len(missing)} image(s) not found, first: {missing[:3]}")
    if not pairs:
        raise ConfigError(f"{path}: no pairs")
    return pairs


def load_hggt(root: str | Path) -> list[Group]:
    """Read HGGT's published layout (see the module docstring)."""
    root = Path(root)
    img_root, lab_root = root / "images", root / "labels"
    if not img_root.is_dir():
        raise ConfigError(f"{root}: no images/ folder; expected HGGT's layout images/<part>/original/<name>.png")
    groups: list[Group] = []
    for part in sorted(p for p in img_root.iterdir() if p.is_dir()):
        orig_dir = part / "original"
        if not orig_dir.is_dir():
            raise ConfigError(f"{part}: no original/ folder")
        for orig in sorted(orig_dir.iterdir()):
            if not orig.is_file():
                continue
            name = orig.stem
            g = Group(name=f"{part.name}/{name}", original=orig)
            for sub in sorted(p for p in part.iterdir() if p.is_dir() and p.name != "original"):
                cand = next((c for c in sub.glob(f"{name}_{sub.name}.*")), None)
                if cand is not None:
                    g.candidates[sub.name] = cand
            for annot in sorted(p for p in (lab_root / part.name).glob("*") if p.is_dir()):
                lf = annot / f"{name}.json"
                if not lf.is_file():
                    continue
                try:
                    d = json.loads(lf.read_text())
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{lf}: not valid JSON ({exc})") from exc
                for key, entry in d.items():
                    if not key.startswith("Picture_") or not isinstance(entry, dict):
                        continue
                    lab = entry.get("Label")
                    file = str(entry.get("File") or f"{int(key.split('_')[1]) - 1:02d}")  # Picture_2 -> 01
                    if lab is None or file == "original":
                        continue
                    if lab not in LABELS:
                        raise ConfigError(f"{lf}: {key} has label {lab!r}; expected one of {LABELS}")
                    g.votes.setdefault(file.zfill(2) if file.isdigit() else file, []).append(lab)
            if g.candidates:
                groups.append(g)
    if not groups:
        raise ConfigError(f"{root}: no groups found under images/<part>/original/")
    return groups
