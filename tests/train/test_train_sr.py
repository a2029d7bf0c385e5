"""The paper-1 training commands end to end on the CPU with tiny configurations (no network)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qualedge.cli import main
from qualedge.errors import WeightsNotFoundError

TINY = ["--set", "data.gt_size=32", "--set", "run.batch=2", "--set", "run.progress=false", "--set", 'model.hparams={num_feat=8, num_conv=2}']


@pytest.fixture(scope="module")
def photos(tmp_path_factory, photo_path: Path) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        shutil.copy(photo_path.parent / name, d / name)
    return d


@pytest.fixture(scope="module")
def multigt(tmp_path_factory, photos: Path) -> Path:
    out = tmp_path_factory.mktemp("mgt")
    labels = tmp_path_factory.mktemp("lab") / "labels.json"
    labels.write_text(json.dumps({"coffee": {"02": ["Positive", "Positive", "Similar"], "04": "Negative"}}))
    assert main(["make-multigt", str(photos), "-o", str(out), "--labels", str(labels), "--no-progress"]) == 0
    return out


def _csv(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_make_multigt_layout(multigt: Path) -> None:
    from qualedge.iqa.agreement.data import load_hggt

    groups = load_hggt(multigt)
    assert len(groups) == 3 and all(sorted(g.candidates) == ["01", "02", "03", "04"] for g in groups)
    coffee = next(g for g in groups if g.name.endswith("coffee"))
    assert coffee.label("02") == "Positive" and coffee.label("04") == "Negative"


@pytest.mark.parametrize("strategy", ["orig_only", "sma", "amo", "upos"])
def test_train_sr_strategies(multigt: Path, tmp_path: Path, strategy: str) -> None:
    out = tmp_path / "run"
    rc = main(
        ["train-sr", *TINY, "--set", f'data.multigt_roots=["{multigt}"]', "--set", f'data.strategy="{strategy}"',
         "--set", "data.temperature=0.05", "--set", "run.steps=3", "--set", "run.ckpt_every=3", "--set", f'run.out="{out}"']
    )  # fmt: skip
    assert rc == 0
    latest = json.loads((out / "latest.json").read_text())
    assert latest["step"] == 3 and (out / latest["path"] / "model.safetensors").is_file()
    rows = _csv(out / "metrics.csv")
    assert {"l1", "perceptual", "gan", "d_real"} <= set(rows[-1])
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["loss"]["perceptual_net"]["network"] == "auto"  # the configured choice, and what it resolved to:
    assert cfg["resolved"]["perceptual_extractor"] in ("vgg19", "qhead (vgg19 weights unavailable)")
    assert rows[-1]["perceptual_extractor"] == cfg["resolved"]["perceptual_extractor"]
    meta = json.loads((out / latest["path"] / "model.json").read_text())
    assert meta["resolved"] == cfg["resolved"] and (out / latest["path"] / "model_raw.safetensors").is_file()


def test_perceptual_fallback_is_explicit(capsys, tmp_path: Path, photos: Path) -> None:
    from qualedge.train.losses import PerceptualConfig, PerceptualLoss

    msgs: list[str] = []
    loss = PerceptualLoss(PerceptualConfig(), log=msgs.append)
    assert loss.enabled and loss.source == "qhead (vgg19 weights unavailable)" and any("unavailable" in m for m in msgs)
    with pytest.raises(WeightsNotFoundError, match="perceptual.fallback"):
        PerceptualLoss(PerceptualConfig(network="vgg19"), log=msgs.append)


def test_killed_run_resumes_from_the_last_checkpoint(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "qualedge", "train-sr", *TINY, "--set", f'data.hr_folders=["{photos}"]', "--set", "run.steps=40",
           "--set", "run.ckpt_every=5", "--set", "run.log_every=1", "--set", f'run.out="{out}"']  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (out / "latest.json").is_file() and json.loads((out / "latest.json").read_text())["step"] >= 10:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = json.loads((out / "latest.json").read_text())["step"]
    assert 10 <= killed_at < 40
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from" in r.stdout + r.stderr
    steps = [int(row["step"]) for row in _csv(out / "metrics.csv")]
    assert steps[-1] == 40 and min(s for s in steps if s > killed_at) == killed_at + 1  # continued, not restarted
    assert json.loads((out / "latest.json").read_text())["step"] == 40
    assert not list(out.glob(".ckpt-*.partial"))


def test_ddp_with_two_gloo_processes(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "qualedge", "train-sr", *TINY,
           "--set", f'data.hr_folders=["{photos}"]', "--set", "run.steps=3", "--set", "run.ckpt_every=3", "--set", "run.log_every=1",
           "--set", "run.device=\"cpu\"", "--set", f'run.out="{out}"']  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = _csv(out / "metrics.csv")
    assert rows and all(row["world_size"] == "2" for row in rows)
    assert json.loads((out / "latest.json").read_text())["step"] == 3


def test_finetune_lora_then_export_merges(multigt: Path, tmp_path: Path) -> None:
    out = tmp_path / "ft"
    rc = main(
        ["finetune-sr", *TINY, "--set", f'data.multigt_roots=["{multigt}"]', "--set", 'model.init="realesr-animevideov3"',
         "--set", 'model.hparams={}', "--set", "lora.rank=2", "--set", "run.steps=2", "--set", "run.ckpt_every=2", "--set", f'run.out="{out}"',
         "--set", 'variant="FT_IG"']
    )  # fmt: skip
    assert rc == 0
    ck = out / json.loads((out / "latest.json").read_text())["path"]
    assert (ck / "adapter" / "adapter_model.safetensors").is_file()
    from qualedge.export.api import ModelSource, export_bundle

    man = export_bundle(tmp_path / "bundle", [ModelSource(name="sr", checkpoint=str(ck))], precisions=("fp32",), quality_head=False)
    assert man.model("sr").extra["lora"]["merged_vs_unmerged_max_abs"] < 1e-4


def test_eval_sr_table(tmp_path: Path, multigt: Path, capsys) -> None:
    rc = main(["eval-sr", "--model", "bicubic", "--model", "realesr-animevideov3", "--multigt", str(multigt), "--metrics", "psnr_y,ssim_y,piqe,qhead,pyiqa:musiq",
               "-o", str(tmp_path), "--no-progress"])  # fmt: skip
    assert rc == 0
    res = json.loads((tmp_path / "eval_sr.json").read_text())
    assert set(res["rows"]) == {"bicubic", "realesr-animevideov3"} and "pyiqa:musiq" in res["unavailable"]
    assert res["rows"]["bicubic"]["psnr_y"] > 15
    assert "| bicubic |" in capsys.readouterr().out


def test_make_distill_pairs_feed_train_sr(photos: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    assert main(["make-distill", str(photos), "-o", str(pairs), "--teacher", "realesr-animevideov3", "--count", "4", "--lr-size", "16", "--no-progress"]) == 0
    from qualedge.io import read_image

    assert read_image(pairs / "hr" / "00000.png").width == 4 * read_image(pairs / "lr" / "00000.png").width
    out = tmp_path / "student"
    assert main(["train-sr", *TINY, "--set", f'data.paired_roots=["{pairs}"]', "--set", "data.gt_size=32", "--set", "loss.gan=0.0",
                 "--set", "run.steps=2", "--set", "run.ckpt_every=2", "--set", f'run.out="{out}"']) == 0  # fmt: skip
    assert np.isfinite(float(_csv(out / "metrics.csv")[-1]["l1"]))


def test_ft_ig_continues_the_base_runs_discriminator_and_raw_weights_are_evaluable(multigt: Path, tmp_path: Path) -> None:
    """FT_IG starts from the base run's trained discriminator (not a new one), and a checkpoint's raw and EMA weights
    are both loadable (``<checkpoint>@raw``) and differ after training."""
    import torch

    from qualedge.checkpoint import read_checkpoint

    base = tmp_path / "base"
    hp = 'model.hparams={num_feat=8, num_conv=2}'
    assert main(["train-sr", *TINY, "--set", f'data.multigt_roots=["{multigt}"]', "--set", "run.steps=4", "--set", "run.ckpt_every=4",
                 "--set", f'run.out="{base}"']) == 0  # fmt: skip
    ck = base / json.loads((base / "latest.json").read_text())["path"]
    ema, raw = read_checkpoint(ck), read_checkpoint(f"{ck}@raw")
    assert ema.weights == "ema" and raw.weights == "raw"
    assert any(not torch.equal(ema.state_dict[k], raw.state_dict[k]) for k in ema.state_dict)
    from qualedge.train.eval_sr import load_model

    assert load_model(f"{ck}@raw")[1] == 4
    out = tmp_path / "ig"
    args = ["finetune-sr", *TINY, "--set", f'data.multigt_roots=["{multigt}"]', "--set", f'model.init="{ck}"', "--set", hp,
            "--set", "lora.rank=2", "--set", "run.steps=1", "--set", "run.ckpt_every=1", "--set", f'run.out="{out}"', "--set", 'variant="FT_IG"']  # fmt: skip
    assert main(args) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["resolved"]["discriminator"].startswith("loaded from") and str(ck) in cfg["resolved"]["discriminator"]
    ft = out / json.loads((out / "latest.json").read_text())["path"]
    assert (ft / "adapter").is_dir() and (ft / "adapter_raw").is_dir()
    out2 = tmp_path / "ig2"  # from a pretrained id there is no base discriminator: a new one, and the config says so
    args2 = ["finetune-sr", *TINY, "--set", f'data.multigt_roots=["{multigt}"]', "--set", 'model.init="realesr-animevideov3"',
             "--set", "model.hparams={}", "--set", "lora.rank=2", "--set", "run.steps=1", "--set", "run.ckpt_every=1",
             "--set", f'run.out="{out2}"', "--set", 'variant="FT_IG"']  # fmt: skip
    assert main(args2) == 0
    assert json.loads((out2 / "config.json").read_text())["resolved"]["discriminator"].startswith("new")
