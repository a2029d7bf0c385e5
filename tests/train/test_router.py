"""``qualedge train-router`` end to end on the CPU with a tiny configuration, the benefit targets, and the SR tile
cache (resume and sharing between model sets)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qualedge.cli import main


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory, photo_path: Path) -> tuple[Path, Path]:
    tr, he = tmp_path_factory.mktemp("router-train"), tmp_path_factory.mktemp("router-held")
    for name in ("astronaut.png", "coffee.png"):
        shutil.copy(photo_path.parent / name, tr / name)
    shutil.copy(photo_path.parent / "chelsea.png", he / "chelsea.png")
    return tr, he


def test_cell_targets_and_tile_benefit() -> None:
    from qualedge.train.router import cell_targets, tile_benefit

    a = np.zeros((1, 64, 64, 3), np.uint8)
    b = a.copy()
    b[0, :32, :32] = 255  # only the first 32x32 cell differs
    t = cell_targets(b, a, 32)
    assert t.shape == (1, 2, 2) and t[0, 0, 0] == pytest.approx(0.0, abs=1e-5) and (t[0].ravel()[1:] < -5).all()
    assert tile_benefit(b, a)[0] == pytest.approx(np.log10(0.25 + 1e-6), abs=1e-5)


def test_train_router_tiny(two_folders: tuple[Path, Path], tmp_path: Path) -> None:
    tr, he = two_folders
    out = tmp_path / "router"
    args = [
        "train-router", "--set", f"out='{out}'", "--set", f"data.folders=['{tr}']", "--set", f"data.heldout_folders=['{he}']",
        "--set", "data.lr_tile=24", "--set", "data.crops_per_image=6", "--set", "data.heldout_crops_per_image=8",
        "--set", "data.heavy='realesr-animevideov3'", "--set", "train.steps=30", "--set", "train.batch=4",
    ]  # fmt: skip
    assert main(args) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["train_crops"] == 12 and m["heldout_crops"] == 8
    assert set(m["heldout_srcc"]) == {"gain", "quality", "gradient", "variance", "edges"}
    assert all(np.isfinite(v["log10_mse_heavy_vs_compact"]) for v in m["heldout_srcc"].values())
    assert m["best_signal"] in m["heldout_srcc"] and m["cost"]["share_of_heavy"] > 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "gain head" in card and "held out: 8 crops" in card
    from qualedge.archs import detect_arch
    from qualedge.weights.load import load_state_dict

    assert detect_arch(load_state_dict(out / "gain_head.safetensors")).id == "gain_head"
    # the SR tiles are cached per model: a second run computes nothing new and gives the same targets
    cached = sorted(p.name for p in (out / "sr_tiles" / "train").iterdir())
    assert cached == ["sr_qualedge-compact-x4.npz", "sr_realesr-animevideov3.npz"]


def test_sr_tile_cache_resumes_and_is_shared(two_folders: tuple[Path, Path], tmp_path: Path) -> None:
    from qualedge.train.sr_tiles import make_sr_tiles

    tr, _ = two_folders
    files = sorted(tr.iterdir())
    a = make_sr_tiles(files, tmp_path / "c", lr=16, crops=3, models=("bicubic",), chunk=4, log=lambda m: None)
    calls = []
    b = make_sr_tiles(files, tmp_path / "c", lr=16, crops=3, models=("bicubic", "qualedge-compact-x4"), chunk=4, log=calls.append)
    assert np.array_equal(a.sr["bicubic"], b.sr["bicubic"]) and b.sr["qualedge-compact-x4"].shape == (6, 64, 64, 3)
    assert not any("bicubic" in c for c in calls)  # the bicubic outputs were reused, not recomputed
    assert a.lr.shape == (6, 16, 16, 3) and a.hr.shape == (6, 64, 64, 3)
