"""Agreement statistics between metric scores and human judgements (definitions documented; the paper's exact
formulas are not public, see reference notes).

Conventions: scores are first *oriented* so that larger = better (lower-is-better metrics are negated).
- Pairwise accuracy: pairs with a human tie (p_b = 0.5) are dropped; a pair counts as correct when the metric prefers
  the image most people preferred; a metric tie (|difference| <= tie_eps) counts one half. Also the tie rate.
- SRCC within groups: Spearman correlation between the scores and the ordinal labels (Negative 0, Original and
  Similar 1, Positive 2) inside each group, averaged over groups whose labels are not all equal; pooled SRCC over all
  images of all groups.
- PM (positive misalignment): fraction of Positive candidates scored no higher than their original. NM (negative
  misalignment): fraction of Negative candidates scored no lower than their original. Lower is better for both.
- Complementarity: each metric's accuracy on the pairs a reference metric gets wrong.
- Two-stage screening: every metric on a random subset of pairs, the best k on the full set.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qualedge.iqa.agreement.data import ORDINAL


def orient(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    return s if higher_is_better else -s


def pair_correctness(sa: np.ndarray, sb: np.ndarray, p_b: np.ndarray, *, tie_eps: float = 1e-6) -> np.ndarray:
    """Per pair: 1 correct, 0 wrong, 0.5 metric tie, NaN for a human tie (dropped). Scores already oriented."""
    sa, sb, p_b = (np.asarray(v, dtype=np.float64) for v in (sa, sb, p_b))
    out = np.where((sb - sa > 0) == (p_b > 0.5), 1.0, 0.0)
    out = np.where(np.abs(sb - sa) <= tie_eps, 0.5, out)
    return np.where(p_b == 0.5, np.nan, out)


def accuracy(correct: np.ndarray) -> tuple[float, int]:
    """(accuracy over non-NaN pairs, number of pairs used)."""
    c = np.asarray(correct, dtype=np.float64)
    used = ~np.isnan(c)
    n = int(used.sum())
    return (float(c[used].mean()) if n else float("nan")), n


def tie_rate(correct: np.ndarray) -> float:
    c = np.asarray(correct, dtype=np.float64)
    used = ~np.isnan(c)
    return float((c[used] == 0.5).mean()) if used.any() else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).correlation)


def group_srcc(scores: Sequence[np.ndarray], labels: Sequence[Sequence[str]]) -> tuple[float, int]:
    """Mean within-group SRCC over groups with non-constant labels, and how many groups were used.

    ``scores[g]`` holds the oriented scores of group g's images, ``labels[g]`` their labels (the original is
    "Original").
    """
    vals = []
    for s, lab in zip(scores, labels):
        o = np.array([ORDINAL[x] for x in lab], dtype=np.float64)
        if np.ptp(o) == 0 or np.ptp(s) == 0:
            continue
        vals.append(_spearman(np.asarray(s), o))
    return (float(np.mean(vals)) if vals else float("nan")), len(vals)


def pooled_srcc(scores: Sequence[np.ndarray], labels: Sequence[Sequence[str]]) -> float:
    s = np.concatenate([np.asarray(x, dtype=np.float64) for x in scores])
    o = np.concatenate([[ORDINAL[x] for x in lab] for lab in labels]).astype(np.float64)
    return _spearman(s, o)


def misalignment(original: np.ndarray, cand: Sequence[np.ndarray], cand_labels: Sequence[Sequence[str]]) -> tuple[float, float, int, int]:
    """(PM, NM, number of Positive candidates, number of Negative candidates); scores oriented."""
    pm_hits = pm_n = nm_hits = nm_n = 0
    for o, cs, labs in zip(original, cand, cand_labels):
        for c, lab in zip(cs, labs):
            if lab == "Positive":
                pm_n += 1
                pm_hits += c <= o
            elif lab == "Negative":
                nm_n += 1
                nm_hits += c >= o
    pm = pm_hits / pm_n if pm_n else float("nan")
    nm = nm_hits / nm_n if nm_n else float("nan")
    return float(pm), float(nm), pm_n, nm_n


def complementarity(correct: dict[str, np.ndarray], reference: str) -> dict[str, tuple[float, int]]:
    """Accuracy of every metric on the pairs where ``reference`` is wrong (correctness 0)."""
    if reference not in correct:
        raise KeyError(f"reference metric {reference!r} was not evaluated; evaluated: {sorted(correct)}")
    wrong = np.asarray(correct[reference]) == 0.0
    return {m: accuracy(np.asarray(c)[wrong]) for m, c in correct.items()}


def screening(subset_acc: dict[str, float], k: int) -> list[str]:
    """The k metrics with the best subset accuracy (ties broken by name for determinism)."""
    ranked = sorted(subset_acc, key=lambda m: (-(subset_acc[m] if subset_acc[m] == subset_acc[m] else -1.0), m))
    return ranked[:k]
