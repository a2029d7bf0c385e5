"""Paired comparisons for the experiment scripts: two arms measured on the same items (images, or image x type)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired(a: Sequence[float], b: Sequence[float], *, higher_is_better: bool = True) -> dict[str, float | int]:
    """a minus b over paired items: mean difference, items where a is better, n, Wilcoxon signed-rank p-value
    (two-sided; NaN with fewer than 5 items or no difference at all)."""
    from scipy.stats import wilcoxon

    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be two equal-length lists, got shapes {x.shape} and {y.shape}")
    d = x - y
    better = d > 0 if higher_is_better else d < 0
    p = float(wilcoxon(d).pvalue) if len(d) >= 5 and np.any(d != 0) else float("nan")
    return {"mean_diff": float(d.mean()) if len(d) else float("nan"), "wins": int(better.sum()), "n": int(len(d)), "p_wilcoxon": p}


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof 1; 0 for a single value) of per-seed results."""
    v = np.asarray(values, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": int(len(v))}
