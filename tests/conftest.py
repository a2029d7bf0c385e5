"""Shared fixtures. Every test runs with the network disabled and a private qualedge cache."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    # A private cache for the whole session: tests never touch the user's ~/.cache and never write into the repo.
    import tempfile

    os.environ["QUALEDGE_CACHE"] = tempfile.mkdtemp(prefix="qualedge-test-cache-")
    os.environ["QUALEDGE_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("network access is disabled in qualedge's tests")

    def no_dns(*args, **kwargs):
        raise socket.gaierror("name resolution is disabled in qualedge's tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def _shared_data() -> Path | None:
    from qualedge.paths import shared_data_dir

    return shared_data_dir()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The optional data folder (../shared/data or QUALEDGE_DATA); tests that need it skip without it."""
    d = _shared_data()
    if d is None:
        pytest.skip("the shared data folder is absent (set QUALEDGE_DATA or place it at ../shared/data)")
    return d


@pytest.fixture(scope="session")
def photo_path() -> Path:
    """A real photograph that is always available: scikit-image's CC0 'chelsea' (installed with pyiqa's deps)."""
    try:
        import skimage.data
    except ImportError:  # pragma: no cover - skimage is a dependency of pyiqa
        pytest.skip("scikit-image is not installed")
    p = Path(skimage.data.__file__).parent / "chelsea.png"
    if not p.is_file():
        pytest.skip("scikit-image's bundled photos are missing")
    return p


@pytest.fixture(scope="session")
def niqe_metric():
    """The built-in NIQE; it needs the official LIVE parameters (data folder or pyiqa's cache): skips without them."""
    from qualedge.errors import WeightsNotFoundError
    from qualedge.iqa.metrics import create_metric

    try:
        return create_metric("niqe")
    except WeightsNotFoundError as exc:
        pytest.skip(f"NIQE's official parameters are absent: {str(exc).split(';')[0]}")


# A bundle shared by the runtime and benchmark tests: the real compact x4 model (realesr-animevideov3), a small RRDBNet
# as the heavy model (random weights: routing, not quality, is under test) and the quality head.
@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    import torch
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


# A small restoration bundle shared by the runtime and benchmark tests: the tiny AdaQual-Diff preset with random weights,
# perturbed so that every path matters (agreement between runtimes, not quality, is under test).
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
