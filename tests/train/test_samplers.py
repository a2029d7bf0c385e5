"""Each GT-sampling strategy's choice distribution, checked statistically (chi-square against the expected law)."""

from __future__ import annotations

import numpy as np
import pytest
from qualedge.train.samplers import choice_probabilities, choose, softmax
from scipy.stats import chisquare

from qualedge.errors import ConfigError

LABELS = ["Original", "Positive", "Negative", "Positive", "Similar"]
SCORES = [50.0, 60.0, 40.0, 55.0, 52.0]
N = 20000


def _freq(strategy: str, labels=LABELS, scores=SCORES, temperature: float = 5.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros(len(labels))
    for _ in range(N):
        counts[choose(strategy, labels, rng, scores=scores, temperature=temperature)] += 1
    return counts


def _check(counts: np.ndarray, p: np.ndarray) -> None:
    support = p > 0
    assert counts[~support].sum() == 0  # never chooses an impossible candidate
    if support.sum() == 1:
        assert counts[support][0] == N
        return
    stat = chisquare(counts[support], N * p[support])
    assert stat.pvalue > 1e-3, (counts, N * p)


@pytest.mark.parametrize("strategy", ["orig_only", "rand", "upos", "sma", "smp"])
def test_distribution_matches_the_definition(strategy: str) -> None:
    expected = {
        "orig_only": np.array([1, 0, 0, 0, 0], float),
        "rand": np.full(5, 0.2),
        "upos": np.array([0, 0.5, 0, 0.5, 0]),
        "sma": softmax(np.array(SCORES), 5.0),
        "smp": np.array([0, *softmax(np.array([60.0, 55.0]), 5.0)[:1], 0, softmax(np.array([60.0, 55.0]), 5.0)[1], 0]),
    }[strategy]
    np.testing.assert_allclose(choice_probabilities(strategy, LABELS, SCORES, 5.0), expected, atol=1e-12)
    _check(_freq(strategy), expected)


def test_temperature_limits() -> None:
    assert choice_probabilities("sma", LABELS, SCORES, 1e-3).argmax() == 1
    assert choice_probabilities("sma", LABELS, SCORES, 1e-3)[1] > 0.999
    np.testing.assert_allclose(choice_probabilities("sma", LABELS, SCORES, 1e6), 0.2, atol=1e-4)
    with pytest.raises(ConfigError, match="temperature must be positive"):
        choice_probabilities("sma", LABELS, SCORES, 0.0)


def test_groups_without_positives_use_the_original() -> None:
    labels = ["Original", "Negative", "Similar"]
    for s in ("upos", "smp"):
        np.testing.assert_allclose(choice_probabilities(s, labels, [1.0, 2.0, 3.0], 1.0), [1, 0, 0])


def test_amo_takes_the_argmax_of_the_online_crop_scores() -> None:
    rng = np.random.default_rng(0)
    calls = []

    def scorer(i: int) -> float:
        calls.append(i)
        return [0.1, 0.9, 0.3][i]

    assert choose("amo", ["Original", "Similar", "Similar"], rng, crop_scorer=scorer) == 1
    assert calls == [0, 1, 2]  # every candidate's crop is scored
    with pytest.raises(ConfigError, match="needs a crop scorer"):
        choose("amo", LABELS, rng)


def test_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="unknown strategy"):
        choose("best", LABELS, rng)
    with pytest.raises(ConfigError, match="exactly one Original"):
        choice_probabilities("rand", ["Positive"], None)
    with pytest.raises(ConfigError, match="needs IQA scores"):
        choice_probabilities("sma", LABELS, None)
