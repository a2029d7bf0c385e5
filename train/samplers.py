"""Ground-truth sampling over multi-GT groups (paper 1): which of a group's candidate GTs a training sample uses.

A group holds the original HR image and enhanced versions; each candidate has a human label when known
("Original", "Positive", "Similar", "Negative") and a precomputed IQA score (oriented so that higher is better).

- ``orig_only``: always the original.
- ``rand``: uniform over all candidates.
- ``upos``: uniform over the human-Positive candidates (HGGT's baseline); a group without Positives uses its original.
- ``sma``: softmax of score / temperature over all candidates (no human labels needed).
- ``smp``: softmax of score / temperature over the Positive candidates (original when there is none).
- ``amo``: argmax-online: the crop location is drawn first, the same crop is scored in every candidate with the IQA
  metric, and the best one is used (ties: the first in group order).
Temperature is in the metric's score units (MUSIQ points, or qhead quality in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from qualedge.errors import ConfigError

STRATEGIES = ("orig_only", "rand", "upos", "sma", "smp", "amo")


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    z = (np.asarray(scores, dtype=np.float64) - np.max(scores)) / temperature
    e = np.exp(z)
    return e / e.sum()


def choice_probabilities(strategy: str, labels: Sequence[str], scores: Sequence[float] | None, temperature: float = 1.0) -> np.ndarray:
    """The probability of each candidate under a non-online strategy (``amo`` depends on the crop: see choose)."""
    n = len(labels)
    orig = np.array([lab == "Original" for lab in labels])
    if orig.sum() != 1:
        raise ConfigError(f"a group needs exactly one Original candidate, got labels {list(labels)}")
    pos = np.array([lab == "Positive" for lab in labels])
    if strategy == "orig_only":
        return orig.astype(np.float64)
    if strategy == "rand":
        return np.full(n, 1.0 / n)
    if strategy == "upos":
        return (pos / pos.sum()) if pos.any() else orig.astype(np.float64)
    if scores is None:
        raise ConfigError(f"strategy {strategy} needs IQA scores for the candidates")
    s = np.asarray(scores, dtype=np.float64)
    if strategy == "sma":
        return softmax(s, temperature)
    if strategy == "smp":
        if not pos.any():
            return orig.astype(np.float64)
        p = np.zeros(n)
        p[pos] = softmax(s[pos], temperature)
        return p
    raise ConfigError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")


def choose(
    strategy: str,
    labels: Sequence[str],
    rng: np.random.Generator,
    *,
    scores: Sequence[float] | None = None,
    temperature: float = 1.0,
    crop_scorer: Callable[[int], float] | None = None,
) -> int:
    """Index of the candidate to train on. For ``amo``, ``crop_scorer(i)`` scores candidate i's crop (higher = better)."""
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if strategy == "amo":
        if crop_scorer is None:
            raise ConfigError("amo needs a crop scorer (the crop location is drawn before choosing the candidate)")
        vals = np.array([crop_scorer(i) for i in range(len(labels))], dtype=np.float64)
        return int(np.argmax(vals))
    p = choice_probabilities(strategy, labels, scores, temperature)
    return int(rng.choice(len(labels), p=p))
