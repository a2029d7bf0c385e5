"""The restore pipeline: seams, routing, faults, alpha/16-bit/grey, folders, resume after SIGKILL, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from qualedge.runtime.restorer import RestoreOptions, Restorer

from qualedge.errors import InferenceError
from qualedge.io import Image, read_image, write_image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _photo(photo_path: Path, h: int = 160, w: int = 224) -> Image:
    img = read_image(photo_path)
    return img.with_pixels(np.ascontiguousarray(img.rgb[:h, :w]))


@pytest.mark.parametrize("tile,overlap", [(48, 8), (64, 16)])
def test_no_seams_tiled_equals_whole_image(bundle: Path, photo_path: Path, example_path: Path, tile: int, overlap: int) -> None:
    from qualedge.weights.zoo import load_pretrained

    model, _ = load_pretrained("realesr-animevideov3")
    r = Restorer(bundle, RestoreOptions(tile=tile, overlap=overlap, policy="compact"))
    for img in (_photo(photo_path), read_image(example_path)):
        tiled = r.restore(img).pixels
        with torch.inference_mode():
            whole = model(torch.from_numpy(img.rgb).permute(2, 0, 1)[None]).clamp(0, 1)[0].permute(1, 2, 0).numpy()
        whole = np.floor(whole * 255 + 0.5)
        assert tiled.shape == whole.shape
        assert _psnr(tiled, whole) >= 45.0


def test_adaptive_routing_follows_the_quality_threshold(bundle: Path, photo_path: Path, tmp_path: Path) -> None:
    from qualedge.data.degradations import degrade

    img = _photo(photo_path, 128, 256)
    rgb = img.rgb.copy()
    rgb[:, 128:] = degrade(rgb[:, 128:], "blur", 0.9, 0)
    img = img.with_pixels(rgb)
    all_compact = Restorer(bundle, RestoreOptions(tile=64, overlap=0, threshold=0.0)).restore(img)
    assert all_compact.summary["decisions"] == {"sr": 8, "sr_heavy": 0}
    all_heavy = Restorer(bundle, RestoreOptions(tile=64, overlap=0, threshold=1.0)).restore(img)
    assert all_heavy.summary["decisions"] == {"sr": 0, "sr_heavy": 8}
    q = all_compact.quality
    assert q[:, :2].mean() > q[:, 2:].mean()  # the blurred half has lower tile quality
    mid = float((q[:, :2].min() + q[:, 2:].max()) / 2)
    mixed = Restorer(bundle, RestoreOptions(tile=64, overlap=0, threshold=mid)).restore(img)
    assert (mixed.decisions[:, :2] == 0).all() and (mixed.decisions[:, 2:] == 1).all()


def test_fp16_nan_tiles_rerun_in_fp32(bundle: Path, photo_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = _photo(photo_path, 96, 128)
    ref = Restorer(bundle, RestoreOptions(tile=64, policy="compact", precision="fp32")).restore(img).pixels
    r = Restorer(bundle, RestoreOptions(tile=64, policy="compact", precision="fp16"))
    real = r.backends[0].run
    calls = {"n": 0}

    def flaky(x):
        y = real(x)
        calls["n"] += 1
        if calls["n"] == 1:
            y[0, 0, 0, 0] = np.nan  # one tile of the first batch overflows
        return y

    monkeypatch.setattr(r.backends[0], "run", flaky)
    res = r.restore(img)
    assert res.summary["fp32_fallback_tiles"] == 1
    assert _psnr(res.pixels, ref) > 40  # the rest is fp16, the broken tile is fp32

    r32 = Restorer(bundle, RestoreOptions(tile=64, policy="compact", precision="fp32"))
    monkeypatch.setattr(r32.backends[0], "run", lambda x: np.full((len(x), 3, x.shape[2] * 4, x.shape[3] * 4), np.nan, np.float32))
    with pytest.raises(InferenceError, match="NaN/Inf .* in fp32; no fall-back"):
        r32.restore(img)


def test_alpha_16bit_and_grey(bundle: Path, photo_path: Path, shared_data_or_none) -> None:
    r = Restorer(bundle, RestoreOptions(tile=64, policy="compact"))
    rng = np.random.default_rng(0)
    rgba16 = np.concatenate([(read_image(photo_path).rgb[:40, :50] * 65535).astype(np.uint16), rng.integers(0, 65536, (40, 50, 1), dtype=np.uint16)], axis=2)
    res = r.restore(Image.from_array(rgba16))
    assert res.pixels.dtype == np.uint16 and res.pixels.shape == (160, 200, 4)
    grey = r.restore(Image.from_array((read_image(photo_path).rgb[:40, :50, 0] * 255).astype(np.uint8)))
    assert grey.grey and grey.pixels.dtype == np.uint8
    if shared_data_or_none is not None:
        real = read_image(shared_data_or_none / "images" / "real_lr" / "realesrgan_inputs" / "children-alpha.png")
        out = r.restore(real.with_pixels(real.rgb[:64, :64], real.alpha[:64, :64]))
        assert out.pixels.shape[2] == 4 and out.pixels[:, :, 3].min() < 128  # transparent parts stay transparent


@pytest.fixture
def shared_data_or_none():
    from qualedge.paths import shared_data_dir

    return shared_data_dir()


def test_folder_run_skips_existing_and_writes_summaries(bundle: Path, photo_path: Path, tmp_path: Path, capsys) -> None:
    from qualedge.cli import main

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_image(src / f"p{i}.png", _photo(photo_path, 48 + 8 * i, 64))
    out = tmp_path / "out"
    assert main(["restore", str(src), "-o", str(out), "--bundle", str(bundle), "--json", "--no-progress", "--decision-map"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and all({"decode", "quality", "inference", "blend", "encode"} <= set(x["times_s"]) for x in lines)
    assert read_image(out / "p1.png").height == (48 + 8) * 4 and (out / "p1.decisions.png").is_file()
    assert main(["restore", str(src), "-o", str(out), "--bundle", str(bundle), "--json", "--no-progress"]) == 0
    assert all("skipped" in json.loads(x) for x in capsys.readouterr().out.splitlines())


def test_killed_folder_run_leaves_no_partial_file_and_resumes(bundle: Path, photo_path: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        write_image(src / f"p{i}.png", _photo(photo_path, 96, 128))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "qualedge", "restore", str(src), "-o", str(out), "--bundle", str(bundle), "--policy", "heavy", "--no-progress", "--tile", "48"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out.exists() and len(list(out.glob("p*.png"))) >= 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in out.glob("p*.png"))
    assert 2 <= len(done) < 6, done
    for p in done:
        assert read_image(out / p).width == 512  # every visible output is complete
    assert not list(out.glob(".*partial"))  # no half-written file that looks valid
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-1000:]
    summaries = [json.loads(x) for x in r.stdout.splitlines()]
    assert sum("skipped" in s for s in summaries) == len(done)
    assert len(list(out.glob("p*.png"))) == 6


def test_restore_errors(bundle: Path, tmp_path: Path) -> None:
    from qualedge.cli import main

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert main(["restore", str(bad), "-o", str(tmp_path / "o.png"), "--bundle", str(bundle), "--no-progress"]) == 2
    assert main(["restore", str(bad), "-o", str(tmp_path / "o.png"), "--bundle", str(tmp_path / "nobundle")]) == 2


def test_folder_run_survives_bad_files(bundle: Path, photo_path: Path, tmp_path: Path, capsys) -> None:
    """A corrupt file first in the folder, a truncated PNG and an empty JPEG among good photos: every good photo is
    restored, each bad file is named in its JSON line and at the end, and the exit status is 1; --fail-fast stops."""
    from qualedge.cli import main

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a_corrupt.png").write_bytes(b"not a png at all")
    good = _photo(photo_path, 48, 64)
    write_image(src / "b_good.png", good)
    data = (src / "b_good.png").read_bytes()
    (src / "c_truncated.png").write_bytes(data[: len(data) // 3])
    (src / "d_empty.jpg").write_bytes(b"")
    write_image(src / "e_good.png", good)
    rc = main(["restore", str(src), "-o", str(out), "--bundle", str(bundle), "--policy", "compact", "--tile", "64", "--json", "--no-progress"])
    cap = capsys.readouterr()
    assert rc == 1
    lines = [json.loads(x) for x in cap.out.strip().splitlines()]
    by = {Path(x["input_file"]).name: x for x in lines}
    assert set(by) == {"a_corrupt.png", "b_good.png", "c_truncated.png", "d_empty.jpg", "e_good.png"}
    assert all("error" in by[n] for n in ("a_corrupt.png", "c_truncated.png", "d_empty.jpg"))
    assert "error" not in by["b_good.png"] and "error" not in by["e_good.png"]
    assert sorted(p.name for p in out.iterdir()) == ["b_good.png", "e_good.png"]
    assert "3 of 5 file(s) failed" in cap.err and "a_corrupt.png" in cap.err
    # resume: the good outputs exist and are skipped, the bad files fail again, nothing else is written
    assert main(["restore", str(src), "-o", str(out), "--bundle", str(bundle), "--policy", "compact", "--tile", "64", "--no-progress"]) == 1
    capsys.readouterr()
    rc = main(["restore", str(src), "-o", str(tmp_path / "ff"), "--bundle", str(bundle), "--policy", "compact", "--fail-fast", "--no-progress"])
    assert rc == 2 and not list((tmp_path / "ff").iterdir())


def test_torch_backend_agrees_with_ort_and_leaves_threads_alone(bundle: Path, photo_path: Path) -> None:
    """The PyTorch backend (all models, the quality head as its registered architecture) matches ONNX Runtime, and
    its ``threads`` apply to its own calls only: the process-wide setting is unchanged afterwards."""
    import torch
    from qualedge.runtime.restorer import RestoreOptions, Restorer

    from qualedge.io import read_image

    img = read_image(photo_path)
    img = img.with_pixels(img.rgb[:96, :128])
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    r_t = Restorer(bundle, RestoreOptions(backend="torch", threads=want, tile=64))
    out_t = r_t.restore(img)
    assert torch.get_num_threads() == before
    out_o = Restorer(bundle, RestoreOptions(backend="ort", tile=64)).restore(img)
    assert out_t.summary["decisions"] == out_o.summary["decisions"]
    assert np.abs(out_t.pixels.astype(int) - out_o.pixels.astype(int)).max() <= 2
