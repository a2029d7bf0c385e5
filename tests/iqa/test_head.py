"""The shipped quality head: size, behaviour on real photos, differentiability, ONNX export, and its training command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from qualedge.cli import main
from qualedge.data.degradations import graded
from qualedge.io import read_image
from qualedge.iqa.head import DEFAULT_WEIGHTS, QualityHead, load_quality_head
from qualedge.iqa.metrics import create_metric


def test_shipped_weights_load_and_are_small() -> None:
    assert DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.stat().st_size < 2_000_000
    head = load_quality_head()
    assert sum(p.numel() for p in head.parameters()) < 1_000_000


@pytest.mark.parametrize("op", ["blur", "noise", "jpeg", "downscale"])
def test_quality_falls_with_degradation_strength(photo_path: Path, op: str) -> None:
    img = read_image(photo_path).rgb[:256, :256]
    tiles = [img] + graded(img, op, 3, seed=0)
    m = create_metric("qhead")
    q = m(torch.stack([torch.from_numpy(t).permute(2, 0, 1) for t in tiles])).numpy()
    assert q[0] > q[-1] + 0.05, (op, q)
    assert np.all(np.diff(q) < 0.02), (op, q)  # monotone up to a small tolerance


def test_differentiable_reward() -> None:
    m = create_metric("qhead", as_loss=True)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_onnx_export_matches_pytorch(tmp_path: Path, photo_path: Path) -> None:
    import onnxruntime as ort

    head = load_quality_head()
    f = tmp_path / "qhead.onnx"
    dims = {"x": {2: torch.export.Dim("h", min=16, max=8192), 3: torch.export.Dim("w", min=16, max=8192)}}
    torch.onnx.export(head, (torch.rand(1, 3, 64, 96),), str(f), dynamo=True, dynamic_shapes=dims, input_names=["x"])
    sess = ort.InferenceSession(str(f), providers=["CPUExecutionProvider"])
    img = read_image(photo_path).rgb
    for h, w in ((100, 130), (256, 320)):
        x = torch.from_numpy(np.ascontiguousarray(img[:h, :w].transpose(2, 0, 1)))[None]
        with torch.inference_mode():
            ref = head(x).numpy()
        np.testing.assert_allclose(sess.run(None, {"x": x.numpy()})[0], ref, atol=1e-5)


def test_train_qhead_tiny_run(tmp_path: Path, photo_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("astronaut.png", "coffee.png", "chelsea.png"):
        shutil.copy(photo_path.parent / name, photos / name)
    out = tmp_path / "run"
    sets = [
        f'out="{out}"', f'data.folders=["{photos}"]', "data.tile=64", "data.crops_per_image=1", "data.levels=2", 'data.ops=["blur","noise"]',
        "train.epochs=1", 'teacher="piqe"', 'data.sr_models=["bicubic", "qualedge-compact-x4"]', "data.sr_crops_per_image=1",
        "data.sr_heldout_crops_per_image=2",
    ]  # fmt: skip
    rc = main(["train-qhead", *[a for x in sets for a in ("--set", x)]])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["teacher"] == "piqe" and m["train_tiles"] > 0 and "speedup" in m["speed"]
    fam = m["heldout_srcc_per_family"]
    assert {"clean", "blur", "noise", "sr:bicubic", "sr:qualedge-compact-x4"} <= set(fam) and fam["blur"]["tiles"] >= 2
    assert m["sr_pair_ranking"]["pairs"] >= 1 and 0 <= m["sr_pair_ranking"]["accuracy"] <= 1
    assert "ranking accuracy on pairs of SR outputs" in (out / "MODEL_CARD.md").read_text()
    from qualedge.train.qhead import QHeadConfig, compare_heads

    from qualedge.config import load_config
    from qualedge.iqa.head import DEFAULT_WEIGHTS

    comp = compare_heads(load_config(QHeadConfig, None, sets), {"shipped": str(DEFAULT_WEIGHTS)})
    assert set(comp) == {"this run", "shipped"} and comp["this run"]["pooled"] == pytest.approx(m["heldout_srcc_with_teacher"], abs=1e-6)
    assert "Against other heads on the same held-out tiles" in (out / "MODEL_CARD.md").read_text()
    assert (out / "quality_head.safetensors").is_file() and (out / "MODEL_CARD.md").is_file()
    load_quality_head(out / "quality_head.safetensors")
    assert QualityHead().cell == 16
