"""The training core: EMA warm-up against its formula, resume continues the data order exactly, the training state
is read with weights_only=True, raw and EMA weights are both kept, the perceptual extractor is recorded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from qualedge.train.trainer import EMA, RunConfig, Trainer
from torch import nn


def test_ema_warmup_follows_the_formula() -> None:
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.fill_(0.0)
    ema = EMA(m, 0.999)
    expected = 0.0
    for t in range(300):
        with torch.no_grad():
            m.weight.fill_(float(t + 1))
        d = min(0.999, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * (t + 1)
        ema.update(m)
    assert ema.updates == 300
    assert float(ema.shadow["weight"]) == pytest.approx(expected, rel=1e-5)
    # the start model's share after 300 updates: prod(d_t), far below the 0.999^300 = 0.74 of a constant decay
    share = 1.0
    for t in range(300):
        share *= min(0.999, (1 + t) / (10 + t))
    assert share < 0.01 < 0.999**300
    const = EMA(m, 0.999, warmup=False)
    assert const.current_decay() == 0.999
    restored = EMA(m, 0.999)
    restored.load(ema.state(), torch.device("cpu"))
    assert restored.updates == 300 and torch.equal(restored.shadow["weight"], ema.shadow["weight"])
    legacy = EMA(m, 0.999)
    legacy.load({"weight": torch.zeros(1, 1)}, torch.device("cpu"))  # a shadow dict of an earlier version
    assert legacy.current_decay() == 0.999


class _RecordingTask:
    """A task whose 'model' is one parameter; it records every batch it trains on."""

    def __init__(self) -> None:
        self.w = nn.Parameter(torch.zeros(1))
        self.opt = torch.optim.SGD([self.w], lr=0.1)
        self.seen: list[list[int]] = []

    def train_step(self, batch, step: int) -> dict[str, float]:
        self.seen.append(batch[0].tolist())
        loss = (self.w - batch[0].float().mean()) ** 2
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        return {"total": float(loss.detach())}

    def lr(self) -> float:
        return 0.1

    def save_model(self, folder: Path, step: int) -> None:
        (folder / "model.txt").write_text(str(step))

    def state(self) -> dict:
        return {"w": self.w.detach().clone(), "opt": self.opt.state_dict(), "seen": torch.tensor(self.seen)}

    def load_state(self, s: dict) -> None:
        with torch.no_grad():
            self.w.copy_(s["w"])
        self.opt.load_state_dict(s["opt"])


def _loader(epoch: int) -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(epoch)
    return [(torch.randint(0, 1000, (2,), generator=g),) for _ in range(7)]  # 7 batches per epoch


@pytest.mark.parametrize("stop", [3, 7, 10])
def test_resumed_run_sees_the_batches_of_an_uninterrupted_run(tmp_path: Path, stop: int) -> None:
    full = _RecordingTask()
    Trainer(RunConfig(steps=20, ckpt_every=100, out=str(tmp_path / "a"), progress=False), config_dict={}).fit(full, _loader)
    first = _RecordingTask()
    Trainer(RunConfig(steps=stop, ckpt_every=100, out=str(tmp_path / "b"), progress=False), config_dict={}).fit(first, _loader)
    second = _RecordingTask()
    Trainer(RunConfig(steps=20, ckpt_every=100, out=str(tmp_path / "b"), progress=False), config_dict={}).fit(second, _loader)
    assert first.seen + second.seen == full.seen
    assert torch.allclose(second.w, full.w)
    state = torch.load(tmp_path / "b" / "ckpt-0000020" / "training_state.pt", weights_only=True)
    assert (state["epoch"], state["batch_in_epoch"]) == divmod(20, 7)


def test_training_state_with_arbitrary_objects_is_refused(tmp_path: Path) -> None:
    from qualedge.errors import TrainingError

    task = _RecordingTask()
    Trainer(RunConfig(steps=2, ckpt_every=100, out=str(tmp_path), progress=False), config_dict={}).fit(task, _loader)
    p = tmp_path / "ckpt-0000002" / "training_state.pt"
    state = torch.load(p, weights_only=True)
    state["task"]["evil"] = _RecordingTask  # a pickled class: loading it would run code
    torch.save(state, p)
    with pytest.raises(TrainingError, match="cannot be read safely"):
        Trainer(RunConfig(steps=4, ckpt_every=100, out=str(tmp_path), progress=False), config_dict={}).fit(_RecordingTask(), _loader)


def test_resolved_choices_reach_config_and_metrics(tmp_path: Path) -> None:
    t = Trainer(RunConfig(steps=3, log_every=1, ckpt_every=100, out=str(tmp_path), progress=False), config_dict={"a": 1})
    t.set_resolved("perceptual_extractor", "qhead (vgg19 weights unavailable)")
    t.fit(_RecordingTask(), _loader)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["a"] == 1 and cfg["resolved"]["perceptual_extractor"].startswith("qhead")
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert len(rows) == 3 and all(r["perceptual_extractor"] == "qhead (vgg19 weights unavailable)" for r in rows)


def test_perceptual_auto_names_its_extractor(monkeypatch: pytest.MonkeyPatch) -> None:
    from qualedge.train import losses

    from qualedge.errors import ConfigError, WeightsNotFoundError

    def no_vgg(*a, **k):
        raise WeightsNotFoundError("VGG19 weights vgg19-dcbb9e9d.pth not found")

    monkeypatch.setattr(losses, "_VGGFeatures", no_vgg)
    msgs: list[str] = []
    auto = losses.PerceptualLoss(losses.PerceptualConfig(), log=msgs.append)
    assert auto.source == "qhead (vgg19 weights unavailable)" and auto.enabled
    assert any("network = 'auto' uses qhead" in m for m in msgs)
    with pytest.raises(WeightsNotFoundError, match="VGG19 weights unavailable"):
        losses.PerceptualLoss(losses.PerceptualConfig(network="vgg19"))
    assert losses.PerceptualLoss(losses.PerceptualConfig(network="vgg19", fallback="none")).source == "none (vgg19 weights unavailable)"
    with pytest.raises(ConfigError, match="perceptual.network must be"):
        losses.PerceptualLoss(losses.PerceptualConfig(network="vgg16"))


@pytest.mark.parametrize("kind", ["sr", "restore"])
def test_corrupt_training_images_are_skipped_or_fatal(tmp_path: Path, photo_path: Path, kind: str) -> None:
    """A corrupt file (bad header) and a truncated PNG (good header, bad pixels) in a training folder: skipped with
    their path logged (and the samples still come from the good photos), or the run stops naming the file."""
    import shutil

    from qualedge.errors import TrainingError

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(photo_path.parent / "astronaut.png", folder / "good.png")
    (folder / "bad_header.png").write_bytes(b"\x89PNG garbage")
    data = (photo_path.parent / "coffee.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])

    def make(policy: str, log):
        if kind == "sr":
            from qualedge.train.sr_data import SRDataConfig, SRDataset, load_groups

            cfg = SRDataConfig(hr_folders=(str(folder),), gt_size=64, bad_images=policy)
            return SRDataset(cfg, load_groups(cfg), length=6, log=log)
        from qualedge.train.restore_data import RestoreDataConfig, RestoreDataset

        return RestoreDataset(RestoreDataConfig(clean_folders=(str(folder),), gt_size=64, bad_images=policy), length=6, log=log)

    msgs: list[str] = []
    ds = make("skip", msgs.append)
    samples = [ds[i] for i in range(len(ds))]
    assert len(samples) == 6 and all(s[1].shape[-1] == 64 for s in samples)
    assert any("bad_header.png" in m for m in msgs) and any("truncated.png" in m for m in msgs)
    assert set(ds.bad.bad) == {folder / "bad_header.png", folder / "truncated.png"}
    with pytest.raises(TrainingError, match=r"bad_header\.png"):
        make("error", msgs.append)
