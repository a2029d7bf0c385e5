"""Verbs that are not built yet exit non-zero and say so."""

from __future__ import annotations

import subprocess
import sys

import pytest

UNBUILT = ["train-restore"]


@pytest.mark.parametrize("verb", UNBUILT)
def test_unbuilt_verb_says_not_implemented(verb: str) -> None:
    r = subprocess.run([sys.executable, "-m", "qualedge", verb], capture_output=True, text=True)
    assert r.returncode == 3
    assert "not implemented yet" in r.stderr
