"""The native engine (libqualedge over OpenVINO) behind ``qualedge restore --engine native``: it agrees with the
Python runtime on the same bundle (16-bit RGBA, every policy), runs bf16, and is chosen or refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qualedge.runtime.restorer import RestoreOptions, Restorer

from qualedge.io import Image, read_image


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


@pytest.fixture(scope="module")
def rgba16(example_path: Path) -> Image:
    img = read_image(example_path)
    h, w = img.height, img.width
    alpha = np.clip(np.linspace(0.2, 1.0, w, dtype=np.float32)[None, :].repeat(h, 0), 0, 1)
    u16 = np.round(np.concatenate([img.rgb, alpha[:, :, None]], axis=2) * 65535).astype(np.uint16)
    return Image.from_array(u16)


@pytest.mark.parametrize("policy,extra", [("adaptive", {"heavy_fraction": 0.4}), ("random", {"heavy_fraction": 0.5, "seed": 3}),
                                          ("heavy", {}), ("adaptive", {"threshold": 0.6})])  # fmt: skip
def test_native_matches_python_on_16_bit_rgba(bundle: Path, rgba16: Image, policy: str, extra: dict) -> None:
    from qualedge.runtime.native_restorer import NativeRestorer

    opts = RestoreOptions(tile=64, policy=policy, **extra)
    got = NativeRestorer(bundle, opts).restore(rgba16)
    ref = Restorer(bundle, opts).restore(rgba16)
    assert got.pixels.dtype == np.uint16 and got.pixels.shape == ref.pixels.shape
    assert _psnr(got.pixels[:, :, :3], ref.pixels[:, :, :3], 65535) >= 50
    assert np.abs(got.pixels[:, :, 3].astype(int) - ref.pixels[:, :, 3]).max() <= 2  # alpha: the same bicubic
    assert np.array_equal(got.decisions, ref.decisions)  # the same tiles routed (random: numpy's generator, exactly)
    assert got.summary["routing"]["heavy_tiles"] == ref.summary["routing"]["heavy_tiles"]


def test_bf16_runs_close_to_fp32(bundle: Path, rgba16: Image) -> None:
    from qualedge.runtime.native_restorer import NativeRestorer

    fp32 = NativeRestorer(bundle, RestoreOptions(tile=64, policy="compact")).restore(rgba16).pixels
    res = NativeRestorer(bundle, RestoreOptions(tile=64, policy="compact", precision="bf16")).restore(rgba16)
    assert res.summary["precision"] == "bf16"
    assert _psnr(res.pixels[:, :, :3], fp32[:, :, :3], 65535) >= 30


def test_engine_choice_and_refusals(bundle: Path, example_path: Path, tmp_path: Path, capsys) -> None:
    from qualedge.runtime.native_restorer import native_supports, open_sr_restorer

    from qualedge.cli import main
    from qualedge.errors import ConfigError

    assert main(["restore", str(example_path), "-o", str(tmp_path / "n.png"), "--bundle", str(bundle), "--tile", "64", "--json", "--no-progress"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["engine"] == "native" and s["routing"]["policy"] == "adaptive"
    from qualedge.bundle import load_bundle

    assert native_supports(load_bundle(bundle), RestoreOptions(backend="torch")) is not None
    assert type(open_sr_restorer(bundle, RestoreOptions(quality_weighting=True))).__name__ == "Restorer"  # auto falls back
    with pytest.raises(ConfigError, match="quality-weighted"):
        open_sr_restorer(bundle, RestoreOptions(quality_weighting=True), "native")
