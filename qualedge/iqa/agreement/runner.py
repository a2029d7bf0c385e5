"""Score images with NR metrics through the cache, and compute the agreement statistics for both data layouts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from qualedge.errors import MetricError
from qualedge.io import read_image
from qualedge.iqa.agreement import stats
from qualedge.iqa.agreement.cache import ScoreCache
from qualedge.iqa.agreement.data import Group, Pair


def _crop(rgb: np.ndarray, crop: int | None) -> np.ndarray:
    if not crop:
        return rgb
    h, w = rgb.shape[:2]
    c = min(crop, h, w)
    y, x = (h - c) // 2, (w - c) // 2
    return rgb[y : y + c, x : x + c]


def score_images(
    paths: Sequence[Path], metric_ids: Sequence[str], cache: ScoreCache, *, crop: int | None = None, progress: bool = True, device: str = "cpu"
) -> dict[str, dict[Path, float]]:
    """Scores of every image under every metric; cached by (metric, sha256 of the file, crop)."""
    from tqdm import tqdm

    from qualedge.iqa.metrics import create_metric, get_spec

    crop_key = f"center{crop}" if crop else "full"
    unique = list(dict.fromkeys(paths))
    out: dict[str, dict[Path, float]] = {}
    for mid in metric_ids:
        spec = get_spec(mid)
        if spec.mode != "NR":
            raise MetricError(f"{spec.id} is full-reference; agreement analysis takes no-reference metrics")
        metric = None
        scores: dict[Path, float] = {}
        for p in tqdm(unique, desc=spec.id, unit="img", disable=not progress, leave=False):
            sha = cache.file_hash(p)
            s = cache.get(spec.id, sha, crop_key)
            if s is None:
                if metric is None:
                    metric = create_metric(spec.id, device=device)
                rgb = _crop(read_image(p).rgb, crop)
                x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
                s = float(metric(x)[0])
                cache.put(spec.id, sha, crop_key, s)
            scores[p] = s
        out[spec.id] = scores
    return out


def evaluate_sbs(
    pairs: Sequence[Pair],
    metric_ids: Sequence[str],
    cache: ScoreCache,
    *,
    crop: int | None = None,
    screen_fraction: float | None = None,
    screen_k: int = 3,
    complement_ref: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    from qualedge.iqa.metrics import get_spec

    ids = [get_spec(m).id for m in metric_ids]
    result: dict = {"n_pairs": len(pairs), "metrics": {}}
    rng = np.random.default_rng(seed)
    if screen_fraction:
        n_sub = max(1, int(round(len(pairs) * screen_fraction)))
        sub = [pairs[i] for i in sorted(rng.choice(len(pairs), n_sub, replace=False))]
        sub_scores = score_images([p.a for p in sub] + [p.b for p in sub], ids, cache, crop=crop, progress=progress)
        sub_acc = {}
        for m in ids:
            hib = get_spec(m).higher_is_better
            c = stats.pair_correctness(
                stats.orient([sub_scores[m][p.a] for p in sub], hib), stats.orient([sub_scores[m][p.b] for p in sub], hib), [p.p_b for p in sub]
            )
            sub_acc[m] = stats.accuracy(c)[0]
        selected = stats.screening(sub_acc, screen_k)
        result["screening"] = {"subset_pairs": n_sub, "subset_accuracy": sub_acc, "selected": selected}
        ids = selected
    scores = score_images([p.a for p in pairs] + [p.b for p in pairs], ids, cache, crop=crop, progress=progress)
    correct: dict[str, np.ndarray] = {}
    splits = sorted({p.split for p in pairs})
    for m in ids:
        hib = get_spec(m).higher_is_better
        c = stats.pair_correctness(
            stats.orient([scores[m][p.a] for p in pairs], hib), stats.orient([scores[m][p.b] for p in pairs], hib), [p.p_b for p in pairs]
        )
        correct[m] = c
        per_split = {}
        for s in splits:
            mask = np.array([p.split == s for p in pairs])
            acc, n = stats.accuracy(c[mask])
            per_split[s] = {"accuracy": acc, "pairs": n, "tie_rate": stats.tie_rate(c[mask])}
        acc, n = stats.accuracy(c)
        result["metrics"][m] = {"higher_is_better": hib, "splits": per_split, "all": {"accuracy": acc, "pairs": n, "tie_rate": stats.tie_rate(c)}}
    if complement_ref:
        ref = get_spec(complement_ref).id
        if ref not in correct:
            raise MetricError(f"complementarity reference {ref} was not among the evaluated metrics {ids}")
        comp = stats.complementarity(correct, ref)
        result["complementarity"] = {"reference": ref, "accuracy_where_reference_fails": {m: {"accuracy": a, "pairs": n} for m, (a, n) in comp.items()}}
    return result


def evaluate_hggt(groups: Sequence[Group], metric_ids: Sequence[str], cache: ScoreCache, *, crop: int | None = None, progress: bool = True) -> dict:
    from qualedge.iqa.metrics import get_spec

    ids = [get_spec(m).id for m in metric_ids]
    all_paths = [g.original for g in groups] + [p for g in groups for p in g.candidates.values()]
    scores = score_images(all_paths, ids, cache, crop=crop, progress=progress)
    labels_count = {lab: sum(g.label(k) == lab for g in groups for k in g.candidates) for lab in ("Positive", "Similar", "Negative")}
    out: dict = {"n_groups": len(groups), "labels": labels_count, "metrics": {}}
    for m in ids:
        hib = get_spec(m).higher_is_better
        grp_scores, grp_labels, orig, cand, cand_labels = [], [], [], [], []
        for g in groups:
            keys = sorted(g.candidates)
            o = stats.orient([scores[m][g.original]], hib)[0]
            cs = stats.orient([scores[m][g.candidates[k]] for k in keys], hib)
            labs = [g.label(k) for k in keys]
            grp_scores.append(np.concatenate([[o], cs]))
            grp_labels.append(["Original", *labs])
            orig.append(o)
            cand.append(cs)
            cand_labels.append(labs)
        srcc, n_used = stats.group_srcc(grp_scores, grp_labels)
        pm, nm, n_pos, n_neg = stats.misalignment(np.asarray(orig), cand, cand_labels)
        out["metrics"][m] = {
            "higher_is_better": hib,
            "srcc_within_groups": srcc,
            "groups_used": n_used,
            "srcc_pooled": stats.pooled_srcc(grp_scores, grp_labels),
            "pm": pm,
            "nm": nm,
            "positives": n_pos,
            "negatives": n_neg,
        }
    return out
