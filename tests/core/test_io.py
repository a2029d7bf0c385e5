"""Image I/O: formats, depths, modes, EXIF, atomic writes, and every bad-input error (with real files)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from qualedge.errors import ImageReadError, ImageWriteError, OutputError
from qualedge.io import Image, read_header, read_image, write_image


@pytest.fixture(scope="module")
def photo(photo_path: Path) -> Image:
    return read_image(photo_path)


# ----------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
def test_lossless_8bit_roundtrip_is_exact(tmp_path: Path, photo: Image, ext: str) -> None:
    out = write_image(tmp_path / f"a{ext}", photo)
    back = read_image(out)
    assert back.bit_depth == 8 and back.rgb.shape == photo.rgb.shape
    np.testing.assert_array_equal(np.round(back.rgb * 255), np.round(photo.rgb * 255))


@pytest.mark.parametrize("ext", [".jpg", ".webp"])
def test_lossy_formats_roundtrip_close(tmp_path: Path, photo: Image, ext: str) -> None:
    back = read_image(write_image(tmp_path / f"a{ext}", photo, quality=95))
    assert back.rgb.shape == photo.rgb.shape
    mse = float(np.mean((back.rgb - photo.rgb) ** 2))
    assert 10 * np.log10(1 / mse) > 35  # high-quality lossy coding of a real photo


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_rgba_roundtrip_keeps_every_level(tmp_path: Path, ext: str) -> None:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 65536, size=(37, 53, 4), dtype=np.uint16)
    img = Image.from_array(arr)
    assert img.bit_depth == 16 and img.has_alpha
    back = read_image(write_image(tmp_path / f"x{ext}", img))
    assert back.bit_depth == 16 and back.alpha is not None
    np.testing.assert_array_equal(np.round(back.rgb * 65535).astype(np.uint16), arr[:, :, :3])
    np.testing.assert_array_equal(np.round(back.alpha * 65535).astype(np.uint16), arr[:, :, 3])


def test_grey_stays_grey_and_grey_alpha(tmp_path: Path) -> None:
    g = (np.arange(30 * 40) % 256).astype(np.uint8).reshape(30, 40)
    back = read_image(write_image(tmp_path / "g.png", Image.from_array(g)))
    assert back.grey and back.mode == "L" and back.rgb.shape == (30, 40, 3)
    np.testing.assert_array_equal(np.round(back.rgb[:, :, 1] * 255).astype(np.uint8), g)
    ga = np.stack([g, 255 - g], axis=2)
    back = read_image(write_image(tmp_path / "ga.png", Image.from_array(ga)))
    assert back.grey and back.alpha is not None
    np.testing.assert_array_equal(np.round(back.alpha * 255).astype(np.uint8), 255 - g)


def test_real_edge_case_inputs(shared_data: Path) -> None:
    d = shared_data / "images" / "real_lr" / "realesrgan_inputs"
    a16 = read_image(d / "tree_alpha_16bit.png")
    assert (a16.bit_depth, a16.mode) == (16, "RGBA")
    rgba = read_image(d / "children-alpha.png")
    assert (rgba.bit_depth, rgba.mode) == (8, "RGBA") and rgba.alpha.min() < 0.5
    assert read_image(d / "00017_gray.png").grey
    assert read_image(d / "wolf_gray.jpg").grey


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)
    for tag, transpose in [(6, PILImage.Transpose.ROTATE_270), (8, PILImage.Transpose.ROTATE_90), (3, PILImage.Transpose.ROTATE_180)]:
        pim = PILImage.fromarray(a)
        exif = pim.getexif()
        exif[0x0112] = tag
        p = tmp_path / f"o{tag}.png"
        pim.save(p, exif=exif.tobytes())
        img = read_image(p)
        expected = np.asarray(PILImage.open(p).transpose(transpose)).astype(np.float32) / 255
        assert img.exif_orientation == tag
        np.testing.assert_allclose(img.rgb, expected, atol=1e-6)
        assert read_image(p, apply_exif=False).rgb.shape == (20, 40, 3)


def test_16bit_written_as_8bit_only_when_asked(tmp_path: Path) -> None:
    img = Image.from_array(np.full((8, 8, 3), 40000, np.uint16))
    back = read_image(write_image(tmp_path / "a.jpg", img))  # default depth: what JPEG can hold
    assert back.bit_depth == 8
    with pytest.raises(ImageWriteError, match="cannot hold 16-bit"):
        write_image(tmp_path / "b.jpg", img, bit_depth=16)


# ----------------------------------------------------------------------------------------------- bad inputs
def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match=r"nope\.png: no such file"):
        read_image(tmp_path / "nope.png")


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="is a folder"):
        read_image(tmp_path)


def test_zero_byte_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.touch()
    with pytest.raises(ImageReadError, match=r"empty\.png: the file is empty"):
        read_image(p)


def test_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is a text file, not a JPEG\n")
    with pytest.raises(ImageReadError, match=r"notes\.jpg: not an image in a supported format.*Supported: PNG"):
        read_image(p)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tif"])
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_real_photo(tmp_path: Path, photo: Image, ext: str, keep: float) -> None:
    full = write_image(tmp_path / f"full{ext}", photo)
    data = full.read_bytes()
    p = tmp_path / f"cut{ext}"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageReadError, match=r"cut\.\w+: .*(truncated|corrupt)"):
        read_image(p)


def test_unsupported_sample_type_float_tiff(tmp_path: Path) -> None:
    import cv2

    p = tmp_path / "float.tif"
    assert cv2.imwrite(str(p), np.random.default_rng(0).random((16, 16, 3), dtype=np.float32))
    with pytest.raises(ImageReadError, match=r"float\.tif: unsupported sample type float32.*16-bit"):
        read_image(p)


def test_unsupported_channel_count(tmp_path: Path) -> None:
    import tifffile

    p = tmp_path / "five.tif"
    tifffile.imwrite(p, np.zeros((16, 16, 5), np.uint8), photometric="minisblack", planarconfig="contig")
    with pytest.raises(ImageReadError, match=r"five\.tif: unsupported"):
        read_image(p)


def _png_with_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_pixel_limit_refused_from_header_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    p = tmp_path / "bomb.png"
    p.write_bytes(_png_with_header(100_000, 100_000))  # 10^10 pixels announced, a few bytes of data
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("decoded despite the pixel limit"))
    with pytest.raises(ImageReadError, match=r"bomb\.png: 100000x100000 = 10000000000 pixels exceeds the limit"):
        read_image(p)
    assert read_header(p) == ("PNG", 100_000, 100_000)


def test_pixel_limit_is_configurable(tmp_path: Path, photo: Image, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write_image(tmp_path / "p.png", photo)
    with pytest.raises(ImageReadError, match="exceeds the limit of 1000 pixels"):
        read_image(p, max_pixels=1000)
    monkeypatch.setenv("QUALEDGE_MAX_PIXELS", "1000")
    with pytest.raises(ImageReadError, match="exceeds the limit"):
        read_image(p)
    monkeypatch.setenv("QUALEDGE_MAX_PIXELS", "lots")
    with pytest.raises(ImageReadError, match="QUALEDGE_MAX_PIXELS='lots' is not an integer"):
        read_image(p)


# ----------------------------------------------------------------------------------------------- outputs
def test_output_folder_missing(tmp_path: Path, photo: Image) -> None:
    with pytest.raises(OutputError, match=r"folder .*no_such_dir does not exist.*mkdir -p"):
        write_image(tmp_path / "no_such_dir" / "x.png", photo)


def test_output_unsupported_extension(tmp_path: Path, photo: Image) -> None:
    with pytest.raises(ImageWriteError, match=r"'\.gif'.*unsupported extension"):
        write_image(tmp_path / "x.gif", photo)


def test_alpha_into_jpeg_is_refused(tmp_path: Path) -> None:
    img = Image.from_array(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ImageWriteError, match="JPEG has no alpha channel"):
        write_image(tmp_path / "x.jpg", img)


@pytest.mark.skipif(shutil.which("setpriv") is None or not hasattr(os, "geteuid"), reason="needs setpriv")
def test_output_folder_not_writable(tmp_path_factory: pytest.TempPathFactory) -> None:
    # root ignores permission bits, so the check runs as an unprivileged user in a child process.
    base = Path(tmp_path_factory.getbasetemp()).parent.parent / f"qualedge-ro-{os.getpid()}"
    ro = base / "ro"
    ro.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    ro.chmod(0o555)
    code = (
        "import numpy as np, sys\n"
        "from qualedge.io import write_image\n"
        "from qualedge.errors import OutputError\n"
        "try:\n"
        f"    write_image({str(ro / 'x.png')!r}, np.zeros((4,4,3), np.uint8))\n"
        "except OutputError as e:\n"
        "    print('OK', e); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        # the unprivileged user must be able to run this interpreter and read the checkout and its packages (a clone
        # in a 0700 folder is not readable by it): probe first, and skip with the reason when it cannot
        probe = subprocess.run([*cmd[:4], sys.executable, "-c", "import numpy, qualedge.io"], capture_output=True, text=True, timeout=120,
                               env={**os.environ, "HOME": "/tmp"})  # fmt: skip
        if probe.returncode != 0:
            ro.chmod(0o755)
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip(f"user 65534 cannot import numpy and qualedge from this interpreter/checkout: {probe.stderr.strip().splitlines()[-1:]}")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": "/tmp"})
    finally:
        ro.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
    if r.returncode != 0 and ("Permission denied" in r.stderr and "python" in r.stderr.lower()):
        pytest.skip(f"the unprivileged user cannot run this interpreter: {r.stderr[-200:]}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "not writable" in r.stdout


def test_failed_write_leaves_no_partial_file_and_keeps_the_old_one(
    tmp_path: Path, photo: Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"previous complete content")

    def boom(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write_image(target, photo)
    assert target.read_bytes() == b"previous complete content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_from_array_validates() -> None:
    with pytest.raises(ValueError, match="unsupported array dtype"):
        Image.from_array(np.zeros((4, 4), np.int32))
    with pytest.raises(ValueError, match="HxWx1..4"):
        Image.from_array(np.zeros((4, 4, 7), np.uint8))
