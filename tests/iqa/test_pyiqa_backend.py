"""pyiqa metrics go through qualedge's weight resolution; offline failures name the file and where to put it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from qualedge.errors import WeightsNotFoundError
from qualedge.iqa.metrics import create_metric
from qualedge.iqa.pyiqa_backend import pyiqa_weights_dir


def test_pyiqa_metric_without_weights_runs() -> None:
    m = create_metric("pyiqa:psnr")
    x = torch.rand(1, 3, 32, 32)
    assert float(m(x, x)[0]) > 60


def test_pyiqa_metric_offline_names_file_and_location() -> None:
    with pytest.raises(WeightsNotFoundError) as ei:
        create_metric("musiq")
    msg = str(ei.value)
    assert "musiq_koniq_ckpt" in msg and str(pyiqa_weights_dir()) in msg and "huggingface.co" in msg


def test_pyiqa_niqe_resolves_from_the_qualedge_cache(shared_data: Path) -> None:
    target = pyiqa_weights_dir() / "niqe_modelparameters.mat"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shared_data / "iqa" / "niqe" / "modelparameters.mat", target)
    try:
        m = create_metric("pyiqa:niqe")
        from qualedge.io import read_image

        x = torch.from_numpy(read_image(shared_data / "iqa" / "calibra" / "dist_dir" / "I04.bmp").rgb).permute(2, 0, 1)[None]
        assert float(m(x)[0]) == pytest.approx(3.6549, rel=0.01)  # pyiqa's calibrated value
    finally:
        target.unlink()


def test_offline_guard_refuses_torch_hub_and_hf_downloads(tmp_path: Path) -> None:
    import sys

    import huggingface_hub.constants  # noqa: F401  (imported before the guard, as peft or timm would)

    from qualedge.iqa.pyiqa_backend import _no_network

    hf = sys.modules["huggingface_hub.constants"]
    before, download = hf.HF_HUB_OFFLINE, torch.hub.download_url_to_file
    with _no_network():
        assert hf.HF_HUB_OFFLINE is True
        with pytest.raises(WeightsNotFoundError) as ei:
            torch.hub.load_state_dict_from_url("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", model_dir=str(tmp_path))
    assert "alexnet-owt-7be5be79.pth" in str(ei.value) and str(tmp_path) in str(ei.value)
    assert hf.HF_HUB_OFFLINE == before and torch.hub.download_url_to_file is download
    assert not list(tmp_path.iterdir())


def test_pyiqa_lpips_offline_fails_at_once_naming_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no torchvision backbone cached
    with pytest.raises(WeightsNotFoundError) as ei:
        create_metric("pyiqa:lpips")
    assert ".pth" in str(ei.value) and "put it there" in str(ei.value)


def test_missing_pyiqa_names_the_extra_and_its_licence(monkeypatch) -> None:
    """pyiqa is optional ([iqa]): without it, a pyiqa metric fails with what to install and the licence it carries."""
    import importlib.util

    import pytest

    from qualedge.errors import MetricError
    from qualedge.iqa import pyiqa_backend

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyiqa" else real(name, *a))
    with pytest.raises(MetricError, match=r"qualedge\[iqa\].*PolyForm Noncommercial"):
        pyiqa_backend.require_pyiqa()
