"""INT8 forms: ``qualedge export --precision int8 --calibration DIR`` quantizes on real photos, measures what it loses on
held-out photos (PSNR to fp32, PIQE change), refuses beyond the limits, and both runtimes run the form."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from qualedge.runtime.restorer import RestoreOptions, Restorer

from qualedge.errors import ConfigError, ParityError
from qualedge.io import read_image


@pytest.fixture(scope="module")
def photos(tmp_path_factory, photo_path: Path) -> Path:
    d = tmp_path_factory.mktemp("calibration")
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"):
        if (photo_path.parent / name).is_file():
            shutil.copy(photo_path.parent / name, d / name)
    (d / "broken.png").write_bytes(b"not an image")  # skipped, not fatal
    return d


@pytest.fixture(scope="module")
def int8_bundle(tmp_path_factory, photos: Path) -> Path:
    from qualedge.export.api import ModelSource, export_bundle

    out = tmp_path_factory.mktemp("int8") / "bundle"
    man = export_bundle(out, [ModelSource(name="sr", pretrained="realesr-animevideov3")], precisions=("fp32", "int8"), calibration=photos, quality_head=False)
    form = man.model("sr").form("onnx", "int8")
    assert form is not None and form.parity["passed"] and form.parity["worst_psnr_db"] >= 35
    assert "piqe_change" in form.parity and form.extra["quantization"]["quantized_convs"] > 0
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_both_runtimes_run_the_int8_form(int8_bundle: Path) -> None:
    from qualedge.runtime.native_restorer import NativeRestorer

    from qualedge.paths import asset

    img = read_image(asset("images", "example.png"))
    fp32 = Restorer(int8_bundle, RestoreOptions(tile=64)).restore(img).pixels
    py8 = Restorer(int8_bundle, RestoreOptions(tile=64, precision="int8")).restore(img)
    nat8 = NativeRestorer(int8_bundle, RestoreOptions(tile=64, precision="int8")).restore(img)
    assert py8.summary["precision"] == "int8" and nat8.summary["precision"] == "int8"
    assert _psnr(py8.pixels, fp32) >= 30 and _psnr(nat8.pixels, fp32) >= 30
    assert _psnr(nat8.pixels, py8.pixels) >= 35  # ONNX Runtime's and OpenVINO's int8 kernels round alike


def test_int8_gate_refuses_and_needs_calibration(photos: Path, tmp_path: Path) -> None:
    from qualedge.export.api import ModelSource, export_bundle

    src = [ModelSource(name="sr", pretrained="realesr-animevideov3")]
    with pytest.raises(ParityError, match="int8 form loses too much"):
        export_bundle(tmp_path / "a", src, precisions=("fp32", "int8"), calibration=photos, quality_head=False, int8_min_psnr=200.0)
    assert not (tmp_path / "a").exists()  # nothing written
    with pytest.raises(ConfigError, match="calibration"):
        export_bundle(tmp_path / "b", src, precisions=("fp32", "int8"), quality_head=False)
    with pytest.raises(ConfigError, match="usable crops"):
        export_bundle(tmp_path / "c", src, precisions=("fp32", "int8"), calibration=tmp_path, quality_head=False)


def test_restoration_int8_forms_gated_and_run_by_both_runtimes(rbundle: Path, photos: Path, tmp_path: Path, capsys) -> None:
    """``export-restore --precision fp32,int8 --calibration DIR``: both graphs get an int8 form calibrated on degraded
    crops, gated on held-out ones (the random tiny test model is far from a trained one, so the limits here only check
    the mechanics); both runtimes run it, and the gate refuses beyond its limits with nothing written."""
    from qualedge.runtime.diffusion_restorer import DiffusionRestorer
    from qualedge.runtime.native_restorer import NativeRestorer

    from qualedge.cli import main
    from qualedge.data.degradations.composite import composite
    from qualedge.io import Image

    weights = rbundle.parent / "adaqual.safetensors"
    out = tmp_path / "r8"
    args = ["export-restore", "--weights", str(weights), "-o", str(out), "--tile", "64", "--precision", "fp32,int8", "--calibration", str(photos)]
    assert main([*args, "--int8-min-psnr", "5", "--int8-max-nr-change", "100"]) == 0
    from qualedge.bundle import load_bundle

    man = load_bundle(out)
    for name in ("restore", "restore_step"):
        f = man.model(name).form("onnx", "int8")
        assert f is not None and f.parity["passed"] and "piqe_change" in f.parity and f.extra["quantization"]["quantized_convs"] > 0
    img = Image(rgb=composite(read_image(photos / "chelsea.png").rgb[:96, :128], "low_rain", np.random.default_rng(0)))
    py8 = DiffusionRestorer(out, RestoreOptions(precision="int8"), seed=1).restore(img)
    nat8 = NativeRestorer(out, RestoreOptions(precision="int8"), seed=1).restore(img)
    assert py8.summary["precision"] == nat8.summary["precision"] == "int8"
    assert _psnr(nat8.pixels, py8.pixels) >= 30, _psnr(nat8.pixels, py8.pixels)  # ONNX Runtime's and OpenVINO's int8 kernels
    assert main([*args[:4], str(tmp_path / "refused"), *args[5:], "--int8-min-psnr", "200"]) != 0
    assert "int8 form loses too much" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
