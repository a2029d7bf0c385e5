"""``qualedge recipe``: each default model's one-command recipe runs on the CPU in its tiny configuration and
writes weights within the per-file limit plus its report; the trainer honours the time budget."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from qualedge.cli import main


@pytest.fixture(scope="module")
def photos(tmp_path_factory, photo_path: Path) -> Path:
    d = tmp_path_factory.mktemp("recipe_photos")
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        shutil.copy(photo_path.parent / name, d / name)
    return d


@pytest.mark.parametrize("name", ["compact-sr", "quality-head", "restoration"])
def test_recipe_tiny_on_cpu(name: str, photos: Path, tmp_path: Path) -> None:
    from qualedge.archs import detect_arch
    from qualedge.weights.load import load_state_dict

    out = tmp_path / name
    assert main(["recipe", name, "-o", str(out), "--photos", str(photos), "--tiny", "--device", "cpu"]) == 0
    rep = json.loads((out / "recipe.json").read_text())
    assert rep["recipe"] == name and rep["cuda"] is False and rep["tiny"] is True and rep["wall_seconds"] > 0
    w = out / rep["weights"]["file"]
    assert w.is_file() and w.stat().st_size == rep["weights"]["bytes"] <= 16 * 2**20
    sd = load_state_dict(w)
    assert detect_arch(sd).id == {"compact-sr": "srvgg", "restoration": "adaqual_unet", "quality-head": "quality_head"}[name]  # registered archs
    assert rep["last_metrics"]


def test_recipe_bad_inputs(tmp_path: Path) -> None:
    from qualedge.train.recipes import run_recipe

    from qualedge.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown recipe"):
        run_recipe("swinir", tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        run_recipe("restoration", tmp_path, photos=[str(tmp_path / "missing")], tiny=True, device="cpu")
    with pytest.raises(ConfigError, match="--photos"):
        run_recipe("restoration", tmp_path, tiny=True, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            run_recipe("restoration", tmp_path, photos=[str(tmp_path)], device="cuda")


def test_finalize_halves_files_over_the_limit(tmp_path: Path) -> None:
    from qualedge.train.recipes import MAX_FILE_BYTES, finalize

    from qualedge.weights.load import load_state_dict, save_state_dict

    big = tmp_path / "big.safetensors"
    save_state_dict(big, {"w": torch.randn(5 * 2**20), "n": torch.tensor([3])})  # 20 MiB in fp32
    assert big.stat().st_size > MAX_FILE_BYTES
    rep = finalize(big, tmp_path / "out.safetensors")
    sd = load_state_dict(tmp_path / "out.safetensors")
    assert rep["dtype"] == "fp16" and sd["w"].dtype == torch.float16 and sd["n"].dtype == torch.int64 and rep["bytes"] <= MAX_FILE_BYTES
    small = tmp_path / "small.safetensors"
    save_state_dict(small, {"w": torch.randn(10)})
    assert finalize(small, tmp_path / "s.safetensors")["dtype"] == "fp32"


def test_time_budget_stops_with_a_checkpoint(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "budget"
    args = ["train-restore", "--set", "data.gt_size=32", "--set", "run.batch=2", "--set", "run.progress=false", "--set", 'model.preset="tiny"',
            "--set", "loss.lambda_percep=0.0", "--set", f'data.clean_folders=["{photos}"]', "--set", "run.steps=50", "--set", "run.ckpt_every=50",
            "--set", "run.max_minutes=0.00001", "--set", f'run.out="{out}"']  # fmt: skip
    assert main(args) == 0
    latest = json.loads((out / "latest.json").read_text())
    assert 1 <= latest["step"] < 50  # stopped by the budget, and the checkpoint is there


def test_unwrap_sees_through_compile() -> None:
    from qualedge.train.trainer import unwrap

    m = torch.nn.Conv2d(3, 3, 3)
    compiled = torch.compile(m)  # lazy: nothing is compiled until it is called
    assert unwrap(compiled) is m and unwrap(m) is m
    assert list(unwrap(compiled).state_dict()) == ["weight", "bias"]  # no "_orig_mod." prefixes in checkpoints
