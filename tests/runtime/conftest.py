"""Fixtures of the runtime tests (the shared SR ``bundle`` fixture lives in tests/conftest.py): the example photo and a
small restoration bundle (``rbundle``: the tiny AdaQual-Diff preset, perturbed so that every path matters)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def example_path() -> Path:
    return Path(__file__).resolve().parents[2] / "qualedge" / "assets" / "images" / "example.png"


@pytest.fixture(scope="session")
def rbundle(tmp_path_factory) -> Path:
    import torch
    from qualedge.export.restore_export import export_restore_bundle

    from qualedge.archs import build_model
    from qualedge.weights.load import save_state_dict

    root = tmp_path_factory.mktemp("restore-bundle")
    torch.manual_seed(0)
    net, _ = build_model("adaqual_unet", preset="tiny")
    with torch.no_grad():  # NAFNet residual scales and the prompt output start at zero: perturb so every path matters
        for n, p in net.named_parameters():
            if "norm" not in n:
                p.add_(torch.randn_like(p) * 0.05)
    w = root / "adaqual.safetensors"
    save_state_dict(w, net.state_dict())
    out = root / "bundle"
    export_restore_bundle(out, weights=str(w), tile=64)
    return out
