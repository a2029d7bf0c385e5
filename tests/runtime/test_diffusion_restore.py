"""The restoration bundle at run time: unrolled graph vs step loop, ORT vs PyTorch, tiling, chaining with SR."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qualedge.cli import main
from qualedge.errors import BundleError, ConfigError


def _image(h: int, w: int):
    from qualedge.data.degradations.composite import composite
    from qualedge.io import Image

    rng = np.random.default_rng(3)
    base = np.clip(np.cumsum(rng.normal(0, 0.04, (h, w, 3)), axis=1) + 0.5, 0, 1).astype(np.float32)
    return Image(rgb=composite(base, "low_haze_rain", rng))


def test_unrolled_loop_and_backends_agree(rbundle: Path) -> None:
    from qualedge.runtime.diffusion_restorer import DiffusionRestorer
    from qualedge.runtime.restorer import RestoreOptions

    img = _image(100, 150)  # not a tile multiple: padded, 2x3 tiles of 64 with overlap
    ref = DiffusionRestorer(rbundle).restore(img)
    assert ref.pixels.shape == (100, 150, 3) and ref.pixels.dtype == np.uint8
    s = ref.summary
    assert s["scale"] == 1 and s["tiles"]["tile"] == [64, 64] and s["tiles"]["rows"] * s["tiles"]["cols"] > 1
    assert s["restoration"]["steps"] == 2 and 0 <= s["quality"]["mean"] <= 1 and s["times_s"]["quality"] > 0
    for mode, backend in (("loop", "ort"), ("unrolled", "torch"), ("loop", "torch")):
        other = DiffusionRestorer(rbundle, RestoreOptions(backend=backend), mode=mode).restore(img)
        assert np.abs(other.pixels.astype(int) - ref.pixels).max() <= 1, (mode, backend)
    again = DiffusionRestorer(rbundle).restore(img)
    assert np.array_equal(again.pixels, ref.pixels)  # seeded noise: reproducible
    seeded = DiffusionRestorer(rbundle, seed=7).restore(img)
    assert seeded.summary["restoration"]["seed"] == 7


def test_bad_restoration_options(rbundle: Path, bundle: Path) -> None:
    from qualedge.runtime.diffusion_restorer import DiffusionRestorer
    from qualedge.runtime.restorer import RestoreOptions

    with pytest.raises(ConfigError, match="fixed tile of 64"):
        DiffusionRestorer(rbundle, RestoreOptions(tile=128))
    with pytest.raises(ConfigError, match="not a restoration bundle"):
        DiffusionRestorer(bundle)
    with pytest.raises(ConfigError, match="fp32"):
        DiffusionRestorer(rbundle, RestoreOptions(precision="fp16"))
    with pytest.raises(ConfigError, match="mode"):
        DiffusionRestorer(rbundle, mode="fast")
    (rbundle / "restore.fp32.onnx").rename(rbundle / "moved.onnx")
    try:
        with pytest.raises(BundleError, match="missing"):
            DiffusionRestorer(rbundle)
    finally:
        (rbundle / "moved.onnx").rename(rbundle / "restore.fp32.onnx")


def test_restore_cli_chains_restoration_then_sr(rbundle: Path, bundle: Path, tmp_path: Path, capsys) -> None:
    from qualedge.io import read_image, write_pixels

    src = tmp_path / "in.png"
    write_pixels(src, np.floor(_image(64, 80).rgb * 255 + 0.5).astype(np.uint8))
    out = tmp_path / "out.png"
    rc = main(["restore", str(src), "-o", str(out), "--restore-bundle", str(rbundle), "--bundle", str(bundle), "--policy", "compact", "--json", "--no-progress"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert read_image(out).width == 320 and s["scale"] == 4 and s["restoration"]["output"] == [80, 64]
    assert s["times_s"]["restoration"] > 0 and s["restoration"]["restoration"]["steps"] == 2
    only = tmp_path / "only.png"
    assert main(["restore", str(src), "-o", str(only), "--restore-bundle", str(rbundle), "--no-sr", "--no-progress"]) == 0
    assert read_image(only).width == 80
    assert main(["restore", str(src), "-o", str(only), "--no-sr"]) == 2


def test_eval_restore_runs_a_bundle_through_the_runtime(rbundle: Path, photo_path: Path, tmp_path: Path) -> None:
    import shutil

    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(photo_path, clean / photo_path.name)
    rc = main(["eval-restore", "--model", f"deployed={rbundle}", "--clean", str(clean), "--types", "snow", "--crop", "96", "-o", str(tmp_path), "--no-progress"])
    assert rc == 0
    res = json.loads((tmp_path / "eval_restore.json").read_text())
    assert res["models"]["deployed"] == str(rbundle) and res["n"] == {"snow": 1}
    assert 0 < res["rows"]["deployed"]["snow"]["ssim_rgb"] <= 1
