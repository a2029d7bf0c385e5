"""Photo metadata that outputs keep: the ICC colour profile, EXIF, XMP and the resolution (DPI).

Reading (``from_header``): the profile bytes unchanged, EXIF as TIFF-structured bytes, XMP as bytes, DPI as floats.
Writing (``embed``): the encoder's bytes get the metadata spliced in without re-encoding the pixels:
- PNG: ``iCCP`` (zlib), ``eXIf``, ``pHYs`` (pixels per metre), ``iTXt`` ``XML:com.adobe.xmp``, after ``IHDR``;
- JPEG: the JFIF ``APP0`` density in DPI, ``APP1`` Exif, ``APP1`` XMP, ``APP2`` ``ICC_PROFILE`` (split in chunks);
- WebP: the extended format (``VP8X`` with its flags), ``ICCP``, ``EXIF``, ``XMP `` chunks; WebP has no resolution;
- TIFF: written by tifffile with the ICC (tag 34675), XMP (700), resolution tags and EXIF's IFD0 text fields
  (camera make and model, copyright, artist, date, description); EXIF's sub-IFDs (exposure, GPS) do not fit;
- BMP holds none of them.
``losses`` names what a format cannot hold; callers put it in the summary (never a silent loss).
Before writing, ``for_output`` updates the metadata to the output: EXIF orientation 1 (the reader applied it),
EXIF pixel dimensions and resolution, and the DPI scaled by the upscale factor so the printed size stays the same
(``dpi="scale"``) or kept (``dpi="keep"``).

Colour: the models work on the pixel values as given (no colour conversion); the profile is carried so that a
viewer shows the output in the input's colours. ``to_srgb``/``from_srgb`` convert with LittleCMS (Pillow's
ImageCms) for ``--colour convert``.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

DPI_MODES = ("scale", "keep")
# EXIF IFD0 text fields that are also baseline TIFF tags (kept in TIFF outputs)
TIFF_TEXT_TAGS = {270: "ImageDescription", 271: "Make", 272: "Model", 305: "Software", 306: "DateTime", 315: "Artist", 33432: "Copyright"}
EXIF_IFD, PIXEL_X, PIXEL_Y, ORIENTATION = 0x8769, 0xA002, 0xA003, 0x0112
X_RES, Y_RES, RES_UNIT = 282, 283, 296


@dataclass(frozen=True)
class PhotoMetadata:
    icc: bytes | None = None
    exif: bytes | None = None  # TIFF-structured (starts with II*\0 or MM\0*), no "Exif\0\0" prefix
    xmp: bytes | None = None
    dpi: tuple[float, float] | None = None
    size: tuple[int, int] | None = None  # (width, height) of the pixels this metadata describes

    @property
    def empty(self) -> bool:
        return not (self.icc or self.exif or self.xmp or self.dpi)

    def fields(self) -> list[str]:
        return [n for n, v in (("icc", self.icc), ("exif", self.exif), ("xmp", self.xmp), ("dpi", self.dpi)) if v]


def _strip_exif_prefix(b: bytes | None) -> bytes | None:
    if not b:
        return None
    return b[6:] if b.startswith(b"Exif\x00\x00") else b


def from_header(header: Any, fmt_name: str, size: tuple[int, int]) -> PhotoMetadata:
    """The metadata of a file opened (lazily) by Pillow; a broken block is dropped, never fatal."""
    if header is None:
        return PhotoMetadata(size=size)
    info = header.info
    icc = info.get("icc_profile") or None
    exif = None
    try:
        ex = header.getexif()
        if fmt_name == "TIFF":  # IFD0 of a TIFF is the image's own structure: keep only the descriptive fields
            from PIL import Image as PILImage

            keep = PILImage.Exif()
            for tag in (*TIFF_TEXT_TAGS, ORIENTATION):
                if tag in ex:
                    keep[tag] = ex[tag]
            sub = ex.get_ifd(EXIF_IFD)
            if sub:
                keep.get_ifd(EXIF_IFD).update(sub)
            ex = keep
        if len(ex) or ex.get_ifd(EXIF_IFD):
            exif = _strip_exif_prefix(ex.tobytes())
    except Exception:  # noqa: BLE001 - a broken EXIF block must not make a readable image unreadable
        exif = _strip_exif_prefix(info.get("exif"))
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if xmp is None and fmt_name == "TIFF":
        xmp = getattr(header, "tag_v2", {}).get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    dpi = info.get("dpi")
    if dpi is not None:
        try:
            dpi = (float(dpi[0]), float(dpi[1]))
            if not (dpi[0] > 0 and dpi[1] > 0):
                dpi = None
        except (TypeError, ValueError, IndexError):
            dpi = None
    return PhotoMetadata(icc=icc, exif=exif, xmp=bytes(xmp) if xmp else None, dpi=dpi, size=size)


def updated_exif(exif: bytes, width: int, height: int, dpi: tuple[float, float] | None) -> bytes:
    """EXIF with orientation 1, the new pixel dimensions and resolution (TIFF-structured bytes)."""
    from PIL import Image as PILImage

    ex = PILImage.Exif()
    ex.load(b"Exif\x00\x00" + exif)
    if ORIENTATION in ex:
        ex[ORIENTATION] = 1
    sub = ex.get_ifd(EXIF_IFD)
    if sub or PIXEL_X in sub:
        sub[PIXEL_X], sub[PIXEL_Y] = int(width), int(height)
    if dpi is not None and (X_RES in ex or Y_RES in ex):
        from PIL.TiffImagePlugin import IFDRational

        ex[X_RES], ex[Y_RES], ex[RES_UNIT] = IFDRational(round(dpi[0] * 100), 100), IFDRational(round(dpi[1] * 100), 100), 2
    return _strip_exif_prefix(ex.tobytes()) or b""


def for_output(meta: PhotoMetadata, width: int, height: int, *, dpi: str = "scale") -> PhotoMetadata:
    """The metadata as it must read for an output of ``width`` x ``height`` pixels."""
    if dpi not in DPI_MODES:
        from qualedge.errors import ConfigError

        raise ConfigError(f"dpi must be one of {DPI_MODES}, got {dpi!r}")
    new_dpi = meta.dpi
    if meta.dpi and meta.size and dpi == "scale":
        new_dpi = (meta.dpi[0] * width / meta.size[0], meta.dpi[1] * height / meta.size[1])
    exif = updated_exif(meta.exif, width, height, new_dpi) if meta.exif else None
    return replace(meta, exif=exif, dpi=new_dpi, size=(width, height))


def losses(meta: PhotoMetadata, fmt_name: str) -> list[str]:
    """What of ``meta`` an output in ``fmt_name`` cannot hold (empty when it keeps everything)."""
    out = []
    if fmt_name == "BMP":
        return [f"{f} (BMP holds no metadata)" for f in meta.fields()]
    if fmt_name == "WebP" and meta.dpi:
        out.append("dpi (WebP has no resolution field)")
    if fmt_name == "TIFF" and meta.exif:
        from PIL import Image as PILImage

        ex = PILImage.Exif()
        ex.load(b"Exif\x00\x00" + meta.exif)
        if ex.get_ifd(EXIF_IFD) or ex.get_ifd(0x8825):
            out.append("exif sub-IFDs (exposure, GPS; TIFF outputs keep EXIF's IFD0 text fields)")
    return out


# --- PNG -------------------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _embed_png(data: bytes, meta: PhotoMetadata) -> bytes:
    sig, pos, chunks = data[:8], 8, []
    while pos < len(data):
        n = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos : pos + 12 + n]))
        pos += 12 + n
    ours = []
    if meta.icc:
        ours.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(meta.icc)))
    if meta.dpi:
        ours.append(_png_chunk(b"pHYs", struct.pack(">IIB", round(meta.dpi[0] / 0.0254), round(meta.dpi[1] / 0.0254), 1)))
    if meta.exif:
        ours.append(_png_chunk(b"eXIf", meta.exif))
    if meta.xmp:
        ours.append(_png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + meta.xmp))
    replaced = {b"iCCP", b"sRGB", b"pHYs", b"eXIf"} | ({b"gAMA", b"cHRM"} if meta.icc else set())
    out = [sig]
    for kind, raw in chunks:
        if kind in replaced or (kind == b"iTXt" and meta.xmp and raw[8:26] == b"XML:com.adobe.xmp\x00"):
            continue
        out.append(raw)
        if kind == b"IHDR":
            out.extend(ours)
    return b"".join(out)


# --- JPEG ------------------------------------------------------------------------------------------------------


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise ValueError(f"a JPEG segment holds at most 65533 bytes, got {len(payload)}")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _embed_jpeg(data: bytes, meta: PhotoMetadata) -> tuple[bytes, list[str]]:
    lost: list[str] = []
    pos, segs = 2, []
    while pos < len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9) and 0xE0 <= data[pos + 1] <= 0xEF:
        n = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segs.append((data[pos + 1], data[pos : pos + 2 + n]))
        pos += 2 + n
    rest = data[pos:]
    app0 = next((raw for m, raw in segs if m == 0xE0 and raw[4:9] == b"JFIF\x00"), None)
    if app0 is not None or meta.dpi:
        body = bytearray(app0[4:] if app0 is not None else b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        if meta.dpi:
            body[7:12] = struct.pack(">BHH", 1, min(0xFFFF, max(1, round(meta.dpi[0]))), min(0xFFFF, max(1, round(meta.dpi[1]))))
        app0 = _jpeg_segment(0xE0, bytes(body))
    out = [data[:2]] + ([app0] if app0 is not None else [])
    if meta.exif:
        try:
            out.append(_jpeg_segment(0xE1, b"Exif\x00\x00" + meta.exif))
        except ValueError:
            lost.append("exif (larger than one JPEG segment)")
    if meta.xmp:
        try:
            out.append(_jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + meta.xmp))
        except ValueError:
            lost.append("xmp (larger than one JPEG segment; extended XMP is not written)")
    if meta.icc:
        size = 65519
        parts = [meta.icc[i : i + size] for i in range(0, len(meta.icc), size)]
        if len(parts) > 255:
            lost.append("icc (larger than 255 JPEG segments)")
        else:
            out += [_jpeg_segment(0xE2, b"ICC_PROFILE\x00" + bytes([i + 1, len(parts)]) + p) for i, p in enumerate(parts)]
    for m, raw in segs:  # other application segments the encoder wrote stay, ours replace theirs
        if m == 0xE0 and raw[4:9] == b"JFIF\x00":
            continue
        if m == 0xE1 and (raw[4:10] == b"Exif\x00\x00" or raw[4:33] == b"http://ns.adobe.com/xap/1.0/\x00"):
            continue
        if m == 0xE2 and raw[4:16] == b"ICC_PROFILE\x00":
            continue
        out.append(raw)
    return b"".join(out) + rest, lost


# --- WebP ------------------------------------------------------------------------------------------------------


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def _embed_webp(data: bytes, meta: PhotoMetadata, width: int, height: int, alpha: bool) -> bytes:
    pos, chunks = 12, []
    while pos + 8 <= len(data):
        kind, n = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((kind, data[pos + 8 : pos + 8 + n]))
        pos += 8 + n + (n % 2)
    old_flags = next((c[0] for k, c in chunks if k == b"VP8X"), 0)
    has_alpha = alpha or bool(old_flags & 0x10) or any(k == b"ALPH" for k, _ in chunks)
    flags = (0x20 if meta.icc else 0) | (0x10 if has_alpha else 0) | (0x08 if meta.exif else 0) | (0x04 if meta.xmp else 0)
    vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = [_riff_chunk(b"VP8X", vp8x)]
    if meta.icc:
        body.append(_riff_chunk(b"ICCP", meta.icc))
    body += [_riff_chunk(k, c) for k, c in chunks if k not in (b"VP8X", b"ICCP", b"EXIF", b"XMP ")]
    if meta.exif:
        body.append(_riff_chunk(b"EXIF", meta.exif))
    if meta.xmp:
        body.append(_riff_chunk(b"XMP ", meta.xmp))
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


# --- TIFF ------------------------------------------------------------------------------------------------------


def encode_tiff(arr: np.ndarray, meta: PhotoMetadata) -> bytes:
    """A TIFF of ``arr`` (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, uint8/uint16, with the metadata as tags."""
    import tifffile

    extratags = []
    if meta.icc:
        extratags.append((34675, "B", len(meta.icc), meta.icc, True))
    if meta.xmp:
        extratags.append((700, "B", len(meta.xmp), meta.xmp, True))
    if meta.exif:
        from PIL import Image as PILImage

        ex = PILImage.Exif()
        ex.load(b"Exif\x00\x00" + meta.exif)
        for tag in TIFF_TEXT_TAGS:
            v = ex.get(tag)
            if isinstance(v, str) and v:
                extratags.append((tag, "s", 0, v, True))
    kw: dict[str, Any] = {}
    if meta.dpi:
        kw.update(resolution=(meta.dpi[0], meta.dpi[1]), resolutionunit="INCH")
    photometric = "minisblack" if arr.ndim == 2 else "rgb"
    extra = ["unassalpha"] if arr.ndim == 3 and arr.shape[2] == 4 else None
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric=photometric, extrasamples=extra, extratags=extratags, compression="zlib", metadata=None, **kw)
    return buf.getvalue()


def embed(data: bytes, fmt_name: str, meta: PhotoMetadata, *, width: int, height: int, alpha: bool) -> tuple[bytes, list[str]]:
    """``data`` (an encoder's output in ``fmt_name``) with ``meta`` spliced in, and what could not be kept."""
    if meta.empty or fmt_name == "BMP":
        return data, losses(meta, fmt_name)
    if fmt_name == "PNG":
        return _embed_png(data, meta), []
    if fmt_name == "JPEG":
        return _embed_jpeg(data, meta)
    if fmt_name == "WebP":
        return _embed_webp(data, meta, width, height, alpha), losses(meta, fmt_name)
    raise ValueError(f"embed: {fmt_name} outputs are written with their metadata by encode_tiff")


# --- colour ----------------------------------------------------------------------------------------------------


def _transform(src: bytes | None, dst: bytes | None):
    from PIL import ImageCms

    def prof(b):
        return ImageCms.ImageCmsProfile(io.BytesIO(b)) if b else ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

    return ImageCms.buildTransform(prof(src), prof(dst), "RGB", "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL)


def convert_rgb(rgb: np.ndarray, src_icc: bytes | None, dst_icc: bytes | None) -> np.ndarray:
    """Float RGB (H, W, 3) in [0, 1] from profile ``src_icc`` to ``dst_icc`` (None: sRGB) with LittleCMS, on 8-bit
    samples (ImageCms transforms 8-bit RGB)."""
    from PIL import Image as PILImage
    from PIL import ImageCms

    q = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    out = ImageCms.applyTransform(PILImage.fromarray(q, "RGB"), _transform(src_icc, dst_icc))
    return np.asarray(out, dtype=np.float32) * np.float32(1 / 255)


__all__ = ["PhotoMetadata", "from_header", "for_output", "updated_exif", "losses", "embed", "encode_tiff", "convert_rgb", "DPI_MODES"]
