"""Fixtures of the runtime tests (the shared SR ``bundle`` and restoration ``rbundle`` fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def example_path() -> Path:
    return Path(__file__).resolve().parents[2] / "qualedge" / "assets" / "images" / "example.png"
