"""The metric table and create_metric."""

from __future__ import annotations

import pytest
import torch

from qualedge.errors import MetricError
from qualedge.iqa.metrics import BUILTIN_METRICS, METRICS, create_metric, get_spec, list_metrics
from qualedge.iqa.pyiqa_table import PYIQA_METRICS


def test_every_spec_states_direction_and_mode() -> None:
    for m in METRICS:
        assert isinstance(m.higher_is_better, bool), m.id
        assert m.mode in ("NR", "FR"), m.id
        assert m.backend in ("builtin", "pyiqa"), m.id


def test_direction_has_no_default() -> None:
    from qualedge.iqa.spec import MetricSpec

    with pytest.raises(TypeError):
        MetricSpec(id="x", mode="NR", score_range=None, differentiable=False, backend="builtin", weights="none")  # type: ignore[call-arg]


def test_pyiqa_table_covers_installed_pyiqa_and_agrees_with_it() -> None:
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    ours = {m.id[len("pyiqa:") :]: m for m in PYIQA_METRICS}
    missing = sorted(set(DEFAULT_CONFIGS) - set(ours))
    assert not missing, f"pyiqa metrics without a stated direction in qualedge: {missing}"
    for name, cfg in DEFAULT_CONFIGS.items():
        assert ours[name].mode == cfg["metric_mode"], name
        if "lower_better" in cfg:
            assert ours[name].higher_is_better == (not cfg["lower_better"]), name


def test_builtin_directions() -> None:
    d = {m.id: m.higher_is_better for m in BUILTIN_METRICS}
    assert d == {"psnr": True, "psnr_y": True, "ssim": True, "ssim_y": True, "ssim_rgb": True, "niqe": False, "piqe": False, "brisque": False, "qhead": True}


def test_lookup_and_errors() -> None:
    assert get_spec("musiq").id == "pyiqa:musiq"
    assert get_spec("niqe").backend == "builtin" and get_spec("pyiqa:niqe").backend == "pyiqa"
    with pytest.raises(MetricError, match=r"unknown metric 'niqee'.*Did you mean niqe"):
        get_spec("niqee")
    assert "qhead" in list_metrics(mode="NR", backend="builtin")


def test_as_loss_needs_a_differentiable_metric() -> None:
    with pytest.raises(MetricError, match="not differentiable"):
        create_metric("piqe", as_loss=True)


def test_input_checks() -> None:
    m = create_metric("psnr")
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(MetricError, match="full-reference"):
        m(x)
    with pytest.raises(MetricError, match=r"values must lie in \[0.0, 1.0\]"):
        m(x * 255, x)
    with pytest.raises(MetricError, match="expected an"):
        m(torch.rand(3, 16, 16), x)
    with pytest.raises(MetricError, match="no-reference metric"):
        create_metric("piqe")(x, x)


def test_niqe_refuses_inputs_below_its_block_size(niqe_metric) -> None:
    with pytest.raises(MetricError, match="at least 96x96"):
        niqe_metric(torch.rand(1, 3, 64, 64))


def test_normalize_scale_and_direction() -> None:
    niqe, qhead = get_spec("niqe"), get_spec("qhead")
    q = niqe.normalize(torch.tensor([2.0, 20.0, 50.0]))
    assert torch.allclose(q, torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(qhead.normalize(torch.tensor([0.25])), torch.tensor([0.25]))


def test_fr_metrics_behave(photo_path) -> None:
    from qualedge.io import read_image

    x = torch.from_numpy(read_image(photo_path).rgb).permute(2, 0, 1)[None]
    noisy = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    for mid in ("psnr", "psnr_y", "ssim", "ssim_y", "ssim_rgb"):
        m = create_metric(mid)
        assert float(m(x, x)[0]) >= float(m(noisy, x)[0]), mid
    assert float(create_metric("ssim")(x, x)[0]) == pytest.approx(1.0)


def test_psnr_is_differentiable_as_loss() -> None:
    m = create_metric("psnr", as_loss=True)
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    m(x, torch.rand(1, 3, 8, 8).clamp(0.1, 0.9)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
