"""Each agreement statistic on small hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qualedge.iqa.agreement import stats
from qualedge.iqa.agreement.data import Group


def test_pairwise_accuracy_drops_human_ties_and_halves_metric_ties() -> None:
    sa = np.array([1.0, 2.0, 3.0, 5.0, 1.0])
    sb = np.array([2.0, 1.0, 3.0, 4.0, 9.0])
    p_b = np.array([0.8, 0.7, 0.9, 0.2, 0.5])
    # pair 1: b better by metric and by people -> 1; pair 2: metric prefers a, people b -> 0;
    # pair 3: metric tie -> 0.5; pair 4: metric prefers a, people a -> 1; pair 5: human tie -> dropped
    c = stats.pair_correctness(sa, sb, p_b)
    assert np.isnan(c[4]) and list(c[:4]) == [1.0, 0.0, 0.5, 1.0]
    acc, n = stats.accuracy(c)
    assert n == 4 and acc == pytest.approx(2.5 / 4)
    assert stats.tie_rate(c) == pytest.approx(0.25)


def test_lower_is_better_metrics_are_flipped() -> None:
    # NIQE-like: lower is better. a=3 (better), b=7 (worse); people prefer a (p_b=0.1) -> correct after flipping
    c = stats.pair_correctness(stats.orient([3.0], False), stats.orient([7.0], False), np.array([0.1]))
    assert c[0] == 1.0
    c = stats.pair_correctness(stats.orient([3.0], True), stats.orient([7.0], True), np.array([0.1]))
    assert c[0] == 0.0


def test_group_srcc_and_pooled() -> None:
    labels = [["Original", "Positive", "Negative", "Similar"], ["Original", "Similar", "Similar", "Similar"]]
    perfect = [np.array([1.0, 2.0, 0.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])]
    srcc, used = stats.group_srcc(perfect, labels)
    assert used == 1  # the second group has constant ordinals (Original and Similar are both 1)
    assert srcc == pytest.approx(1.0)
    reversed_ = [np.array([1.0, 0.0, 2.0, 1.0]), np.array([1.0, 2.0, 3.0, 4.0])]
    assert stats.group_srcc(reversed_, labels)[0] == pytest.approx(-1.0)
    # pooled over all 8 images against ordinals [1,2,0,1,1,1,1,1]
    from scipy.stats import spearmanr

    expected = spearmanr([1, 2, 0, 1, 1, 2, 3, 4], [1, 2, 0, 1, 1, 1, 1, 1]).correlation
    assert stats.pooled_srcc(perfect, labels) == pytest.approx(expected)


def test_misalignment_rates() -> None:
    original = np.array([5.0, 5.0])
    cand = [np.array([6.0, 5.0, 4.0]), np.array([4.0, 6.0, 5.0])]
    labs = [["Positive", "Positive", "Negative"], ["Positive", "Negative", "Negative"]]
    # Positives: 6>5 ok, 5<=5 miss, 4<=5 miss -> PM 2/3. Negatives: 4<5 ok, 6>=5 miss, 5>=5 miss -> NM 2/3
    pm, nm, npos, nneg = stats.misalignment(original, cand, labs)
    assert (npos, nneg) == (3, 3)
    assert pm == pytest.approx(2 / 3) and nm == pytest.approx(2 / 3)


def test_complementarity_on_reference_failures() -> None:
    correct = {"ref": np.array([1, 0, 0, 1, 0.5]), "m2": np.array([0, 1, 0, 1, 1]), "m3": np.array([1, 1, 1, 0, 0])}
    comp = stats.complementarity(correct, "ref")
    assert comp["m2"] == (pytest.approx(0.5), 2)  # on pairs 2 and 3
    assert comp["m3"] == (pytest.approx(1.0), 2)
    assert comp["ref"] == (0.0, 2)
    with pytest.raises(KeyError, match="was not evaluated"):
        stats.complementarity(correct, "nope")


def test_screening_picks_best_k() -> None:
    assert stats.screening({"a": 0.6, "b": 0.9, "c": 0.7, "d": float("nan")}, 2) == ["b", "c"]


@pytest.mark.parametrize(
    "votes,expected",
    [(["Positive", "Positive", "Negative"], "Positive"), (["Positive", "Similar", "Negative"], "Similar"), (["Negative"] * 3, "Negative"), ([], "Similar")],
)
def test_majority_vote(votes: list[str], expected: str) -> None:
    from pathlib import Path

    g = Group("g", Path("o.png"), {"01": Path("a.png")}, {"01": votes})
    assert g.label("01") == expected


def test_nan_safe_helpers() -> None:
    assert math.isnan(stats.accuracy(np.array([np.nan]))[0])
