"""Which image formats qualedge reads and writes, and how to recognise them from their bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageFormat:
    name: str
    extensions: tuple[str, ...]
    max_bit_depth: int
    alpha: bool
    cv2_ext: str


FORMATS: tuple[ImageFormat, ...] = (
    ImageFormat("PNG", (".png",), 16, True, ".png"),
    ImageFormat("JPEG", (".jpg", ".jpeg"), 8, False, ".jpg"),
    ImageFormat("BMP", (".bmp",), 8, False, ".bmp"),
    ImageFormat("TIFF", (".tif", ".tiff"), 16, True, ".tiff"),
    ImageFormat("WebP", (".webp",), 8, True, ".webp"),
)

SUPPORTED_EXTENSIONS: tuple[str, ...] = tuple(e for f in FORMATS for e in f.extensions)
SUPPORTED_NAMES = ", ".join(f.name for f in FORMATS)


def format_for_extension(ext: str) -> ImageFormat | None:
    ext = ext.lower()
    return next((f for f in FORMATS if ext in f.extensions), None)


def sniff(data: bytes) -> ImageFormat | None:
    """Recognise a format from the first bytes of a file (the extension is not trusted)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        name = "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        name = "JPEG"
    elif data.startswith(b"BM"):
        name = "BMP"
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        name = "TIFF"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        name = "WebP"
    else:
        return None
    return next(f for f in FORMATS if f.name == name)


def looks_complete(fmt: ImageFormat, data: bytes) -> bool:
    """Cheap structural check that the file was not cut short (decoders may silently pad a truncated file)."""
    if fmt.name == "PNG":
        return b"IEND" in data[-64:]
    if fmt.name == "JPEG":
        return data.rstrip(b"\x00")[-2:] == b"\xff\xd9"
    if fmt.name == "BMP":
        return len(data) >= 6 and len(data) >= int.from_bytes(data[2:6], "little")
    if fmt.name == "WebP":
        return len(data) >= int.from_bytes(data[4:8], "little") + 8
    return True
