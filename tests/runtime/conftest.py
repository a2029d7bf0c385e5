"""A bundle shared by the runtime tests: the real compact x4 model (realesr-animevideov3), a small RRDBNet as the
heavy model (random weights: routing, not quality, is under test) and the quality head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    from qualedge.export.api import ModelSource, export_bundle

    from qualedge.archs import build_model
    from qualedge.weights.load import save_state_dict

    root = tmp_path_factory.mktemp("runtime-bundle")
    torch.manual_seed(0)
    heavy, _ = build_model("rrdbnet", num_block=1, num_feat=16, num_grow_ch=8)
    w = root / "heavy.safetensors"
    save_state_dict(w, heavy.state_dict())
    out = root / "bundle"
    export_bundle(
        out,
        [ModelSource(name="sr", pretrained="realesr-animevideov3"), ModelSource(name="sr_heavy", weights=str(w))],
        precisions=("fp32", "fp16"),
        quality_head=True,
    )
    return out


@pytest.fixture(scope="session")
def example_path() -> Path:
    return Path(__file__).resolve().parents[2] / "qualedge" / "assets" / "images" / "example.png"
