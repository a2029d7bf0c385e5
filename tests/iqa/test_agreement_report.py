"""The agreement tables' layout: one column per split only when there are several, never a repeated column."""

from __future__ import annotations

from qualedge.iqa.agreement.report import sbs_tables


def _res(splits: dict[str, float]) -> dict:
    row = {"higher_is_better": False, "splits": {s: {"accuracy": a} for s, a in splits.items()}, "all": {"accuracy": 0.75, "tie_rate": 0.0}}
    return {"metrics": {"niqe": row}, "n_pairs": 8}


def test_single_split_has_no_duplicate_column() -> None:
    head = sbs_tables(_res({"all": 0.75})).splitlines()[2]
    assert head == "| Metric | better | all acc. (%) | metric ties (%) |"


def test_several_splits_get_a_column_each() -> None:
    lines = sbs_tables(_res({"test": 0.5, "train": 1.0})).splitlines()
    assert lines[2] == "| Metric | better | test acc. (%) | train acc. (%) | all acc. (%) | metric ties (%) |"
    assert lines[3].count("---") == 6
    assert lines[4] == "| niqe | lower | 50.00 | 100.00 | 75.00 | 0.00 |"
