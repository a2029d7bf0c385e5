"""AdaQual-Diff (paper 2): prompting (Algorithm 1), losses, DDIM, train-restore, eval-restore, layouts; CPU, tiny."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from qualedge.archs.adaqual_prompt import AdaptivePrompt, partition
from qualedge.cli import main
from qualedge.diffusion import DDIMSchedule, StepDenoiser, UnrolledSampler, sample_loop
from qualedge.errors import ConfigError

TINY = ["--set", "data.gt_size=32", "--set", "run.batch=2", "--set", "run.progress=false", "--set", 'model.preset="tiny"', "--set", "loss.lambda_percep=0.0"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, photo_path: Path) -> Path:
    d = tmp_path_factory.mktemp("clean")
    for name in ("astronaut.png", "coffee.png"):
        shutil.copy(photo_path.parent / name, d / name)
    return d


def _prompt(**kw) -> AdaptivePrompt:
    torch.manual_seed(0)
    p = AdaptivePrompt(channels=8, dim=16, global_tokens=2, pool_size=4, max_tokens=8, min_tokens=2, top_k=2, regions=4, heads=2, **kw)
    torch.nn.init.normal_(p.out.weight, std=0.5)  # the output projection starts at zero; make the path visible
    return p


def test_partition_follows_quality_quantiles() -> None:
    q = torch.linspace(0, 1, 64).reshape(1, 1, 8, 8)
    region = partition(q, 4)
    counts = torch.bincount(region[0], minlength=4)
    assert counts.min() >= 12 and counts.max() <= 20  # about equal sizes
    means = [q.flatten()[region[0] == r].mean() for r in range(4)]
    assert all(a < b for a, b in zip(means, means[1:]))  # region index increases with quality
    assert (partition(torch.full((1, 1, 4, 4), 0.3), 4) == 0).all()  # a constant map is one region, no crash


def test_prompt_complexity_is_inverse_to_quality_and_pools_switch_at_tau() -> None:
    p = _prompt()
    feat = torch.randn(1, 8, 8, 8)
    q = torch.linspace(0.1, 0.9, 64).reshape(1, 1, 8, 8)
    _, mask, region, info = p.region_prompts(feat, q)
    length, q_r = info["length"][0], info["q_r"][0]
    order = q_r.argsort()
    assert (length[order].diff() < 0).all()  # lower quality -> longer prompt
    expected = (2 + 6 * (1 - (q_r - 0.1) / (0.8 + 1e-6))).round().long()  # C_min + (C_max - C_min)(1 - normalised q_r)
    assert torch.equal(length, expected)
    assert torch.equal(info["low_pool"][0], q_r <= 0.5)  # pool by threshold tau = 0.5
    assert (mask[0].sum(-1) == 2 + length).all()  # global tokens + C_p prompt tokens visible
    # minmax guard: a flat map gives finite lengths
    _, _, _, flat = p.region_prompts(feat, torch.full((1, 1, 8, 8), 0.7))
    assert torch.isfinite(flat["q_r"]).all()


def test_masked_tokens_do_not_reach_the_output() -> None:
    p = _prompt().eval()
    feat, q = torch.randn(1, 8, 8, 8), torch.linspace(0.1, 0.9, 64).reshape(1, 1, 8, 8)
    y0 = p(feat, q)
    with torch.no_grad():
        p.pools[:, :, -1].add_(5.0)  # the last token slot is masked for every region with C_p < C_max
    _, _, _, info = p.region_prompts(feat, q)
    assert (info["length"] < 8).any()
    y1 = p(feat, q)
    region = partition(q, 4)[0]
    full = [r for r in range(4) if info["length"][0, r] == 8]
    untouched = ~torch.isin(region, torch.tensor(full))
    assert torch.allclose(y0.flatten(2)[..., untouched], y1.flatten(2)[..., untouched], atol=1e-6)


def test_ablation_modes() -> None:
    feat, q = torch.randn(1, 8, 8, 8), torch.rand(1, 1, 8, 8)
    assert torch.equal(_prompt(mode="none")(feat, q), feat)
    u = _prompt(mode="uniform")
    a = _prompt(mode="adaptive")
    q2 = torch.rand(1, 1, 8, 8)
    assert not torch.allclose(a(feat, q), a(feat, q2))  # adaptive prompts depend on the quality map
    assert not torch.allclose(u(feat, q), feat)
    with pytest.raises(ValueError, match="prompt mode"):
        _prompt(mode="bogus")


def test_quality_weight_and_ddim() -> None:
    from qualedge.train.restore_train import quality_weight

    q = torch.tensor([[[[0.2, 0.6], [1.0, 0.6]]]])
    w = quality_weight(q)
    assert w.max() == pytest.approx(1.0, abs=1e-5) and w.min() == 0.0 and w[0, 0, 0, 1] == pytest.approx(0.5, abs=1e-5)
    assert torch.equal(quality_weight(torch.full((1, 1, 2, 2), 0.4)), torch.zeros(1, 1, 2, 2))
    s = DDIMSchedule()
    assert s.timesteps(2) == [999, 499] and s.timesteps(4) == [999, 749, 499, 249] and s.timesteps(1) == [999]
    legacy = DDIMSchedule(spacing="leading")
    assert legacy.timesteps(2) == [500, 0] and legacy.timesteps(4) == [750, 500, 250, 0]
    with pytest.raises(ValueError, match="sampling steps"):
        s.timesteps(0)
    from qualedge.archs import build_model

    torch.manual_seed(0)
    net, _ = build_model("adaqual_unet", preset="tiny")
    x, q, n = torch.rand(1, 3, 32, 32), torch.rand(1, 1, 2, 2), torch.randn(1, 3, 32, 32).clamp(-1, 1)
    with torch.no_grad():
        a = UnrolledSampler(net.eval(), 2)(x, q, n)
        b = sample_loop(StepDenoiser(net), x, q, n, 2)
    assert torch.allclose(a, b, atol=1e-6) and a.min() >= 0 and a.max() <= 1


def test_sampler_spec_roundtrip_and_legacy() -> None:
    from qualedge.diffusion import SamplerSpec
    from qualedge.errors import ConfigError

    # a checkpoint from before the spec: 2 leading-spaced diffusion steps
    assert SamplerSpec.from_meta({"steps_inference": 2}) == SamplerSpec("diffusion", 2, "leading")
    new = SamplerSpec(steps=3)
    assert SamplerSpec.from_meta({"sampler": new.to_dict()}) == new
    assert SamplerSpec.from_meta({"sampler": json.dumps(new.to_dict())}, steps=4).steps == 4  # weights metadata is text
    reg = SamplerSpec.regression()
    assert reg.noise_scale == 0.0 and reg.coefficients()[0][0] == 999 and SamplerSpec.from_meta({"sampler": reg.to_dict()}, steps=4) == reg
    with pytest.raises(ConfigError, match="regression"):
        SamplerSpec(objective="regression", steps=2)
    with pytest.raises(ConfigError, match="unknown keys"):
        SamplerSpec.from_meta({"sampler": {"objective": "diffusion", "eta": 1}})


def test_lattice_options_and_legacy_weights_detected() -> None:
    from qualedge.archs import detect_arch, get_arch

    spec = get_arch("adaqual_unet")
    new, _ = spec.build("tiny")
    legacy, _ = spec.build("tiny", down="conv2", up="shuffle")
    assert new.downs[0].kernel_size == (4, 4) and isinstance(new.ups[0][1], torch.nn.Upsample)
    for net, want in ((new, ("conv4", "bilinear")), (legacy, ("conv2", "shuffle"))):
        sd = net.state_dict()
        hp = detect_arch(sd).infer(sd)
        assert (hp["down"], hp["up"]) == want
        rebuilt, _ = spec.build(**hp)
        rebuilt.load_state_dict(sd)  # shapes match: the detected lattice is the trained one
    x, q = torch.rand(1, 3, 32, 32), torch.rand(1, 1, 2, 2)
    with torch.no_grad():
        assert new(x, torch.zeros_like(x), torch.zeros(1), q).shape == (1, 3, 32, 32)


def test_model_sizes_span_tiny_to_paper() -> None:
    from qualedge.archs import get_arch

    spec = get_arch("adaqual_unet")
    tiny, paper = spec.build("tiny")[1].param_count, spec.build("paper")[1].param_count
    assert tiny < 500_000 and 50e6 < paper < 65e6  # the paper's ~60 M


def test_train_restore_then_resume_eval_and_export(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    base = ["train-restore", *TINY, "--set", f'data.clean_folders=["{photos}"]', "--set", "run.ckpt_every=2", "--set", f'run.out="{out}"']
    assert main([*base, "--set", "run.steps=2"]) == 0
    assert main([*base, "--set", "run.steps=4"]) == 0  # resumes from step 2
    assert "resumed from" in capsys.readouterr().out
    latest = json.loads((out / "latest.json").read_text())
    assert latest["step"] == 4
    meta = json.loads((out / latest["path"] / "model.json").read_text())
    assert meta["arch_id"] == "adaqual_unet" and meta["steps_inference"] == 2 and meta["quality_metric"] == "qhead"
    rows = (out / "metrics.csv").read_text().splitlines()
    assert {"noise", "quality", "total", "drift_pools", "drift_keys", "drift_global_prompts"} <= set(rows[0].split(","))
    # evaluation table per type (the degraded input is the "input" row)
    ev = tmp_path / "eval"
    rc = main(["eval-restore", "--model", f"tiny={out}", "--clean", str(photos), "--types", "low,haze_rain", "--crop", "64", "-o", str(ev), "--no-progress"])
    assert rc == 0
    res = json.loads((ev / "eval_restore.json").read_text())
    assert set(res["rows"]) == {"input", "tiny"} and res["types"] == ["low", "haze_rain"] and res["n"] == {"low": 2, "haze_rain": 2}
    assert 5 < res["rows"]["input"]["low"]["psnr_rgb"] < 40 and 0 < res["rows"]["tiny"]["average"]["ssim_y"] <= 1
    assert "| tiny |" in (ev / "eval_restore.md").read_text()
    # both graph forms through the parity gate
    b = tmp_path / "rbundle"
    assert main(["export-restore", "--checkpoint", str(out), "-o", str(b), "--tile", "64"]) == 0
    man = json.loads((b / "manifest.json").read_text())
    roles = {m["role"] for m in man["models"]}
    assert roles == {"restore-unrolled", "restore-step", "quality"} and man["policy"]["steps"] == 2
    assert all(f["parity"]["passed"] for m in man["models"] for f in m["forms"] if f["format"] == "onnx")


def test_prompt_tensors_learn() -> None:
    """With the prompt tensors in their own Adam group (eps 1e-8), a few steps move the pools and keys measurably;
    with the released eps 1e-4 on them they barely move (the shipped model's pools were still at their init)."""
    import torch
    from qualedge.train.restore_train import RestoreOptimConfig, RestoreTask, TrainRestoreConfig, prompt_drift
    from qualedge.train.trainer import RunConfig, Trainer

    def drift(optim: RestoreOptimConfig, tmp: str) -> dict[str, float]:
        cfg = TrainRestoreConfig(optim=optim, run=RunConfig(steps=5, out=tmp, progress=False, ema=0.0))
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, preset="tiny"), loss=dataclasses.replace(cfg.loss, lambda_percep=0.0))
        task = RestoreTask(cfg, Trainer(cfg.run, config_dict={}, log=lambda m: None))
        torch.manual_seed(0)
        x = torch.rand(2, 3, 32, 32)
        gt = (x * 0.5 + 0.3).clamp(0, 1)
        for step in range(5):
            task.train_step((x, gt, torch.zeros(2)), step + 1)
        return prompt_drift(dict(task.raw.named_parameters()), task.prompt_init)

    import tempfile

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        new = drift(RestoreOptimConfig(), a)
        old = drift(RestoreOptimConfig(prompt_eps=1e-4, prompt_lr_mult=1.0), b)
    assert new["drift_pools"] > 10 * old["drift_pools"] and new["drift_keys"] > 10 * old["drift_keys"]
    assert new["drift_pools"] > 1e-3


@pytest.mark.parametrize("mode", ["adaptive", "uniform", "none"])
def test_train_restore_ablation_switch(photos: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / mode
    assert main(["train-restore", *TINY, "--set", f'data.clean_folders=["{photos}"]', "--set", f'model.prompt_mode="{mode}"',
                 "--set", "run.steps=1", "--set", "run.ckpt_every=1", "--set", f'run.out="{out}"']) == 0  # fmt: skip
    meta = json.loads((out / json.loads((out / "latest.json").read_text())["path"] / "model.json").read_text())
    assert meta["hyperparameters"]["prompt_mode"] == mode


def test_regression_arm_trains_exports_and_runs_without_noise(photos: Path, tmp_path: Path) -> None:
    """The one-step control: recorded as such in the checkpoint and the bundle; the runtime feeds a zero residual, so
    the output does not depend on the seed, and the bundle agrees with PyTorch on the checkpoint."""
    from qualedge.runtime.diffusion_restorer import image_runner
    from qualedge.train.restore_eval import model_runner

    out = tmp_path / "reg"
    assert main(["train-restore", *TINY, "--set", f'data.clean_folders=["{photos}"]', "--set", 'objective="regression"',
                 "--set", "run.steps=2", "--set", "run.ckpt_every=2", "--set", f'run.out="{out}"']) == 0  # fmt: skip
    meta = json.loads((out / json.loads((out / "latest.json").read_text())["path"] / "model.json").read_text())
    assert meta["sampler"] == {"objective": "regression", "steps": 1, "spacing": "trailing"} and meta["steps_inference"] == 1
    b = tmp_path / "regbundle"
    assert main(["export-restore", "--checkpoint", str(out), "-o", str(b), "--tile", "64"]) == 0
    pol = json.loads((b / "manifest.json").read_text())["policy"]
    assert pol["noise_scale"] == 0.0 and pol["steps"] == 1 and [c[0] for c in pol["coefficients"]] == [999]
    img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    run_b = image_runner(b)
    a, c = run_b(img, 1), run_b(img, 2)
    assert np.array_equal(a, c)  # no noise: the seed changes nothing
    ref = model_runner(str(out))(img, 5)
    assert model_runner(str(out)).sampler.objective == "regression"
    assert np.abs(np.floor(np.clip(ref, 0, 1) * 255 + 0.5) / 255 - a).max() <= 2 / 255


def test_train_restore_ddp_with_two_gloo_processes(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "qualedge", "train-restore", *TINY,
           "--set", f'data.clean_folders=["{photos}"]', "--set", "run.steps=2", "--set", "run.ckpt_every=2", "--set", "run.log_every=1",
           "--set", 'run.device="cpu"', "--set", f'run.out="{out}"']  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = (out / "metrics.csv").read_text().splitlines()
    assert len(rows) > 1 and rows[-1].split(",")[rows[0].split(",").index("world_size")] == "2"


def test_bad_restore_inputs(photos: Path, tmp_path: Path) -> None:
    from qualedge.train.restore_data import RestoreDataConfig, RestoreDataset, load_pairs

    with pytest.raises(ConfigError, match="multiple of 16"):
        RestoreDataset(RestoreDataConfig(clean_folders=(str(photos),), gt_size=40), length=1)
    with pytest.raises(ConfigError, match="unknown"):
        RestoreDataset(RestoreDataConfig(clean_folders=(str(photos),), types=("fog",)), length=1)
    with pytest.raises(ConfigError, match="no restoration data"):
        RestoreDataset(RestoreDataConfig(), length=1)
    with pytest.raises(ConfigError, match="smaller than data.gt_size 1024"):
        RestoreDataset(RestoreDataConfig(clean_folders=(str(photos),), gt_size=1024), length=1)
    with pytest.raises(ConfigError, match="no matching"):
        (tmp_path / "input").mkdir(), (tmp_path / "gt").mkdir()
        load_pairs("allweather", tmp_path)
    assert main(["eval-restore", "--model", "nameonly", "--clean", str(photos)]) == 2


def test_paired_layouts(tmp_path: Path) -> None:
    from qualedge.train.restore_data import RestoreDataConfig, RestoreDataset, load_pairs

    from qualedge.io import write_pixels

    px = (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)
    root = tmp_path / "cdd"
    for sub in ("clear", "low_haze", "snow"):
        (root / "train" / sub).mkdir(parents=True)
        write_pixels(root / "train" / sub / "001.png", px)
    pairs = load_pairs("cdd11", root)
    assert sorted(t for _, _, t in pairs) == ["low_haze", "snow"]
    rd = tmp_path / "raindrop"
    (rd / "data").mkdir(parents=True), (rd / "gt").mkdir()
    write_pixels(rd / "data" / "7_rain.png", px), write_pixels(rd / "gt" / "7_clean.png", px)
    assert [(d.name, c.name) for d, c, _ in load_pairs("raindrop", rd)] == [("7_rain.png", "7_clean.png")]
    ds = RestoreDataset(RestoreDataConfig(paired_layout="cdd11", paired_root=str(root), gt_size=32), length=2)
    deg, clean, kind = ds[0]
    assert deg.shape == clean.shape == (3, 32, 32) and kind in (4, 3)
