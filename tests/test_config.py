"""The typed configuration system."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qualedge.config import load_config, parse_override, to_dict
from qualedge.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    steps: int = 10
    names: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class Outer:
    name: str = "run"
    inner: Inner = field(default_factory=Inner)
    mode: str | None = None


def test_defaults_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('name = "x"\n[inner]\nsteps = 3\n')
    cfg = load_config(Outer, f, ["inner.lr=2e-4", 'inner.names=["p", "q"]'])
    assert cfg == Outer(name="x", inner=Inner(lr=2e-4, steps=3, names=("p", "q")))
    assert to_dict(cfg)["inner"]["names"] == ["p", "q"]


def test_unknown_key_is_an_error_with_a_hint() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'step'.*Did you mean steps"):
        load_config(Outer, None, ["inner.step=3"])


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"config.inner.steps: expected an integer"):
        load_config(Outer, None, ['inner.steps="many"'])


def test_bare_words_are_strings_and_bad_syntax_is_refused() -> None:
    assert parse_override("name=/tmp/out") == ("name", "/tmp/out")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("name")


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, "/nonexistent.toml")
