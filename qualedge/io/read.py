"""Read PNG, JPEG, BMP, TIFF and WebP files (8/16-bit; grey, grey+alpha, RGB, RGBA) into an :class:`Image`.

Order of checks, so that a bad file is refused before any expensive work:
1. the path exists, is a file and is not empty;
2. the bytes are one of the supported formats (sniffed, not trusted from the extension);
3. the header's dimensions are within the pixel limit (refused before decoding);
4. the decoder produces pixels and the file is not truncated;
5. the sample type and channel count are supported.
Then EXIF orientation is applied and the pixels are converted to float32 RGB in [0, 1] plus alpha.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
from pathlib import Path

import numpy as np

from qualedge.errors import ImageReadError
from qualedge.io.formats import SUPPORTED_NAMES, ImageFormat, looks_complete, sniff
from qualedge.io.image import Image, to_float

DEFAULT_MAX_PIXELS = 1 << 28  # 268 M pixels, e.g. 16384 x 16384
_PIL_LOCK = threading.Lock()


def max_pixels_default() -> int:
    """The pixel limit: ``QUALEDGE_MAX_PIXELS`` if set, else 2**28."""
    raw = os.environ.get("QUALEDGE_MAX_PIXELS")
    if raw is None:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        raise ImageReadError(f"QUALEDGE_MAX_PIXELS={raw!r} is not an integer. Set it to a pixel count such as 268435456.") from None
    if value <= 0:
        raise ImageReadError(f"QUALEDGE_MAX_PIXELS={raw!r} must be positive.")
    return value


def _tiff_tags(data: bytes) -> dict[int, int]:
    """Scalar tags of the first TIFF IFD (256 width, 257 height, 258 bits, 277 samples per pixel, 339 sample format)."""
    try:
        bo = "<" if data[:2] == b"II" else ">"
        off = struct.unpack(bo + "I", data[4:8])[0]
        (n,) = struct.unpack(bo + "H", data[off : off + 2])
        tags: dict[int, int] = {}
        for i in range(n):
            tag, typ, _count = struct.unpack(bo + "HHI", data[off + 2 + 12 * i : off + 10 + 12 * i])
            raw = data[off + 10 + 12 * i : off + 14 + 12 * i]
            if typ in (3, 4):
                tags[tag] = struct.unpack(bo + "H", raw[:2])[0] if typ == 3 else struct.unpack(bo + "I", raw)[0]
        return tags
    except (struct.error, IndexError):
        return {}


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    tags = _tiff_tags(data)
    return (tags[256], tags[257]) if 256 in tags and 257 in tags else None


def _open_header(path: Path, data: bytes, fmt: ImageFormat):
    """Pillow's lazy header (no pixel decoding), or None for a TIFF that Pillow cannot parse but whose size is known."""
    from PIL import Image as PILImage

    with _PIL_LOCK:  # Pillow's bomb limit is global state; qualedge applies its own limit instead
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return PILImage.open(io.BytesIO(data))
        except Exception as exc:
            if fmt.name == "TIFF" and _tiff_size(data) is not None:
                return None
            raise ImageReadError(
                f"{path}: the {fmt.name} header cannot be read ({exc}); the file is truncated or corrupt. "
                "Re-export or re-download the image."
            ) from exc
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def read_header(path: str | Path) -> tuple[str, int, int]:
    """Return (format name, width, height) from the header only, without decoding pixels."""
    path, data, fmt = _read_bytes(Path(path))
    w, h = _size(_open_header(path, data, fmt), data)
    return fmt.name, w, h


def _size(header, data: bytes) -> tuple[int, int]:
    if header is not None:
        return int(header.size[0]), int(header.size[1])
    size = _tiff_size(data)
    assert size is not None  # _open_header returns None only when the TIFF size is known
    return size


def _read_bytes(path: Path) -> tuple[Path, bytes, ImageFormat]:
    if not path.exists():
        raise ImageReadError(f"{path}: no such file. Check the path.")
    if path.is_dir():
        raise ImageReadError(f"{path}: is a folder, not an image file. Pass an image file (or use a folder command).")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot be read ({exc.strerror}). Check its permissions.") from exc
    if not data:
        raise ImageReadError(f"{path}: the file is empty (0 bytes). Re-export or re-download the image.")
    fmt = sniff(data)
    if fmt is None:
        raise ImageReadError(
            f"{path}: not an image in a supported format (first bytes {data[:8]!r}). "
            f"Supported: {SUPPORTED_NAMES}. Convert the file to one of these."
        )
    return path, data, fmt


_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def read_image(path: str | Path, *, max_pixels: int | None = None, apply_exif: bool = True) -> Image:
    """Read an image file into qualedge's canonical form.

    Args:
        path: the file. Its format is recognised from its bytes.
        max_pixels: refuse images with more pixels than this (checked from the header, before decoding).
            Defaults to ``QUALEDGE_MAX_PIXELS`` or 2**28.
        apply_exif: rotate/flip according to the EXIF orientation tag (JPEG, TIFF, WebP, PNG eXIf).

    Raises:
        ImageReadError: missing, empty, truncated, not an image, unsupported mode, or too large.
    """
    import cv2

    path, data, fmt = _read_bytes(Path(path))
    limit = max_pixels_default() if max_pixels is None else max_pixels
    header = _open_header(path, data, fmt)
    w, h = _size(header, data)
    if w <= 0 or h <= 0:
        raise ImageReadError(f"{path}: the header gives an empty size {w}x{h}. The file is corrupt.")
    if w * h > limit:
        raise ImageReadError(
            f"{path}: {w}x{h} = {w * h} pixels exceeds the limit of {limit} pixels (checked before decoding). "
            "Raise it with --max-pixels or QUALEDGE_MAX_PIXELS if you trust the file, or downscale the image."
        )
    orientation = 1
    if apply_exif and header is not None:
        try:
            orientation = int(header.getexif().get(0x0112, 1) or 1)
        except Exception:  # a broken EXIF block must not make a readable image unreadable
            orientation = 1

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None and fmt.name == "TIFF" and _tiff_tags(data).get(277, 1) not in (1, 2, 3, 4):
        raise ImageReadError(
            f"{path}: unsupported mode with {_tiff_tags(data)[277]} channels. qualedge reads grey, grey+alpha, RGB and "
            "RGBA; convert the image to one of these."
        )
    if arr is None:
        raise ImageReadError(
            f"{path}: the {fmt.name} data cannot be decoded; the file is truncated or corrupt. "
            "Re-export or re-download the image."
        )
    if not looks_complete(fmt, data) and header is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header.load()
        except Exception as exc:
            raise ImageReadError(
                f"{path}: the {fmt.name} file is truncated ({exc}). Re-export or re-download the image."
            ) from exc

    if arr.dtype in (np.uint8, np.uint16):
        depth = 8 if arr.dtype == np.uint8 else 16
    else:
        raise ImageReadError(
            f"{path}: unsupported sample type {arr.dtype} ({fmt.name}). qualedge reads 8- and 16-bit integer images; "
            "convert float or 32-bit images to 16-bit PNG or TIFF."
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if channels not in (1, 2, 3, 4):
        raise ImageReadError(
            f"{path}: unsupported mode with {channels} channels. qualedge reads grey, grey+alpha, RGB and RGBA; "
            "convert the image to one of these."
        )
    if orientation in _ORIENT:
        arr = _ORIENT[orientation](arr)

    f = to_float(arr)
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(f[:, :, -1])
        f = f[:, :, :-1]
    if channels in (1, 2):
        rgb = np.repeat(f, 3, axis=2)
    else:
        rgb = f[:, :, ::-1]  # OpenCV decodes to BGR
    grey = channels in (1, 2) or (header is not None and header.mode in ("L", "LA", "I;16", "I;16B", "I", "1"))
    from qualedge.io.metadata import from_header

    photo = from_header(header, fmt.name, (int(arr.shape[1]), int(arr.shape[0])))
    return Image(
        rgb=np.ascontiguousarray(rgb),
        alpha=alpha,
        bit_depth=depth,
        grey=grey,
        path=path,
        exif_orientation=orientation,
        meta={"format": fmt.name},
        photo=photo,
    )
