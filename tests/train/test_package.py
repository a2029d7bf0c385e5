"""``qualedge package-model``: the explicit step that makes a trained model a shipped default (train/package.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qualedge.cli import main
from qualedge.errors import ConfigError


def _checkout(root: Path) -> Path:
    (root / "qualedge" / "assets" / "weights").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='qualedge'\n")
    return root


def _quality_head(path: Path, seed: int) -> Path:
    from qualedge.archs import build_model
    from qualedge.weights.load import save_state_dict
    from qualedge.weights.model_load import weights_metadata

    torch.manual_seed(seed)
    model, desc = build_model("quality_head")
    return save_state_dict(path, model.state_dict(), metadata=weights_metadata(desc))


def test_package_model_writes_the_slot_and_its_card(tmp_path: Path, capsys) -> None:
    from qualedge.weights.model_load import load_model

    repo = _checkout(tmp_path / "repo")
    out = tmp_path / "run"
    out.mkdir()
    w = _quality_head(out / "head.safetensors", 1)
    (out / "quality-head.md").write_text("# card\n")
    (out / "quality-head-example.png").write_bytes(b"\x89PNG")
    rc = main(
        [
            "package-model",
            str(w),
            "--as",
            "quality_head.safetensors",
            "--card",
            str(out / "quality-head.md"),
            "--repo",
            str(repo),
        ]
    )
    assert rc == 0
    written = json.loads(capsys.readouterr().out.split("\ncommit")[0])
    target = repo / "qualedge" / "assets" / "weights" / "quality_head.safetensors"
    assert (
        Path(written["weights"]) == target.resolve()
        and written["arch"] == "quality_head"
        and len(written["sha256"]) == 64
    )
    assert (repo / "docs" / "models" / "quality-head.md").read_text() == "# card\n"
    assert (repo / "docs" / "models" / "quality-head-example.png").is_file()
    # what was packaged loads back as the same model
    a, b = load_model(str(w)).model.state_dict(), load_model(str(target)).model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_package_model_refuses_a_wrong_arch_and_a_non_checkout(tmp_path: Path) -> None:
    from qualedge.train.package import package_model

    repo = _checkout(tmp_path / "repo")
    w = _quality_head(tmp_path / "head.safetensors", 2)
    with pytest.raises(ConfigError, match="holds a quality_head model; the slot gain_head.safetensors"):
        package_model(w, asset="gain_head.safetensors", repo=repo)
    with pytest.raises(ConfigError, match="not a qualedge source checkout"):
        package_model(w, asset="quality_head.safetensors", repo=tmp_path)
    with pytest.raises(ConfigError, match="not a shipped slot"):
        package_model(w, asset="other.safetensors", repo=repo)
    assert not any((repo / "qualedge" / "assets" / "weights").iterdir())  # nothing half-written


def test_cli_slots_match_the_registry() -> None:
    from qualedge.train.package import SHIPPED

    from qualedge.cli.package_model import SLOTS
    from qualedge.weights.zoo import ASSETS

    assert set(SLOTS) == set(SHIPPED)
    assert {p.name for p in ASSETS.glob("*.safetensors")} == set(SHIPPED)  # every shipped file has a slot
