"""Outputs keep what the photo carried: the ICC profile (bytes unchanged), EXIF (orientation reset, new size), XMP
and the resolution, in PNG, JPEG, TIFF and WebP; BMP's losses are named. Files are built here with Pillow."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from qualedge.io import metadata_losses, read_image, write_image

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'


def _profile(kind: str) -> bytes:
    if kind == "srgb":
        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    # a non-sRGB RGB profile: Pillow builds sRGB only, so change its description and red colourant bytes: another
    # valid RGB matrix profile (what matters here is that the bytes arrive unchanged)
    p = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return p.tobytes().replace(b"sRGB", b"wide", 1)


def _exif(orientation: int, w: int, h: int) -> PILImage.Exif:
    ex = PILImage.Exif()
    ex[0x0112], ex[0x010F], ex[0x0110], ex[0x8298] = orientation, "QualCam", "Q1", "(c) the photographer"
    sub = ex.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = w, h
    return ex


@pytest.fixture(params=["srgb", "wide"])
def jpeg_with_profile(request, tmp_path: Path) -> tuple[Path, bytes]:
    icc = _profile(request.param)
    rgb = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)  # stored 60 wide, 40 high
    p = tmp_path / "photo.jpg"
    PILImage.fromarray(rgb).save(p, exif=_exif(6, 60, 40), icc_profile=icc, dpi=(300, 300), quality=95)
    return p, icc


def _upscale(img, f: int = 2):
    return img.with_pixels(np.repeat(np.repeat(img.rgb, f, 0), f, 1), None if img.alpha is None else np.repeat(np.repeat(img.alpha, f, 0), f, 1))


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tiff", ".webp"])
def test_outputs_keep_profile_exif_and_resolution(jpeg_with_profile, tmp_path: Path, ext: str) -> None:
    src, icc = jpeg_with_profile
    img = read_image(src)
    assert img.rgb.shape == (60, 40, 3)  # orientation 6 applied: 40 wide, 60 high
    assert img.photo.icc == icc and img.photo.dpi == (300.0, 300.0) and img.photo.size == (40, 60)
    out = write_image(tmp_path / f"out{ext}", _upscale(img))
    h = PILImage.open(out)
    assert h.size == (80, 120)
    assert h.info.get("icc_profile") == icc  # the profile bytes, unchanged
    ex = h.getexif()
    assert ex.get(0x010F) == "QualCam" and ex.get(0x8298) == "(c) the photographer"
    assert ex.get(0x0112, 1) == 1  # applied once on reading: never again on viewing
    if ext != ".tiff":  # TIFF keeps EXIF's IFD0 fields; the summary names the sub-IFD loss
        assert ex.get_ifd(0x8769)[0xA002] == 80 and ex.get_ifd(0x8769)[0xA003] == 120
    if ext == ".webp":
        assert metadata_losses(img, ext) == ["dpi (WebP has no resolution field)"]
    else:
        assert h.info["dpi"][0] == pytest.approx(600, abs=0.01)  # scaled: the printed size stays
    back = read_image(out)
    assert back.photo.icc == icc


def test_png16_with_phys_and_xmp_keeps_them(tmp_path: Path) -> None:
    import cv2

    arr = (np.random.default_rng(1).random((24, 32, 3)) * 65535).astype(np.uint16)
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    from qualedge.io.metadata import PhotoMetadata, embed

    data, lost = embed(buf.tobytes(), "PNG", PhotoMetadata(xmp=XMP, dpi=(72.0, 72.0), icc=_profile("wide")), width=32, height=24, alpha=False)
    src = tmp_path / "deep.png"
    src.write_bytes(data)
    img = read_image(src)
    assert img.bit_depth == 16 and img.photo.xmp == XMP and img.photo.dpi == pytest.approx((72.0, 72.0), abs=0.01)
    out = write_image(tmp_path / "deep_x2.png", _upscale(img), dpi="keep")
    back = read_image(out)
    assert back.bit_depth == 16 and back.photo.xmp == XMP and back.photo.icc == _profile("wide")
    assert back.photo.dpi == pytest.approx((72.0, 72.0), abs=0.01)  # kept, as asked
    np.testing.assert_array_equal(back.rgb, _upscale(img).rgb)  # pixels untouched by the metadata splice
    t = write_image(tmp_path / "deep_x2.tiff", _upscale(img))
    tb = read_image(t)
    assert tb.bit_depth == 16 and tb.photo.icc == _profile("wide") and tb.photo.xmp == XMP and tb.photo.dpi == pytest.approx((144.0, 144.0), abs=0.05)  # pHYs holds whole pixels per metre


def test_bmp_losses_are_named_and_strip_writes_none(jpeg_with_profile, tmp_path: Path) -> None:
    src, _ = jpeg_with_profile
    img = read_image(src)
    assert {x.split()[0] for x in metadata_losses(img, ".bmp")} == {"icc", "exif", "dpi"}
    out = write_image(tmp_path / "plain.png", img, metadata=False)
    assert "icc_profile" not in PILImage.open(out).info and not PILImage.open(out).getexif()


def test_restore_cli_keeps_metadata_and_reports_losses(jpeg_with_profile, bundle, tmp_path: Path, capsys) -> None:
    import json

    from qualedge.cli import main

    src, icc = jpeg_with_profile
    for ext in (".jpg", ".webp"):
        out = tmp_path / f"x4{ext}"
        assert main(["restore", str(src), "-o", str(out), "--bundle", str(bundle), "--json", "--no-progress"]) == 0
        s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert PILImage.open(out).info.get("icc_profile") == icc and PILImage.open(out).getexif().get(0x0112, 1) == 1
        assert s["metadata"]["input"] == ["icc", "exif", "dpi"]
        assert s["metadata"]["lost"] == ([] if ext == ".jpg" else ["dpi (WebP has no resolution field)"])
    conv = tmp_path / "conv.png"
    assert main(["restore", str(src), "-o", str(conv), "--bundle", str(bundle), "--colour", "convert", "--json", "--no-progress"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["metadata"]["colour"].startswith("converted") and PILImage.open(conv).info.get("icc_profile") == icc


def test_colour_conversion_round_trip() -> None:
    from qualedge.io.metadata import convert_rgb

    rgb = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    same = convert_rgb(rgb, _profile("srgb"), None)  # sRGB -> sRGB: identity up to 8-bit rounding
    assert np.abs(same - rgb).max() <= 1.5 / 255
    buf = io.BytesIO(_profile("wide"))
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(buf))
