"""Write an :class:`Image` (or an array) atomically as PNG, JPEG, BMP, TIFF or WebP."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qualedge.atomic import atomic_write_bytes, check_output_dir
from qualedge.errors import ImageWriteError
from qualedge.io.formats import SUPPORTED_EXTENSIONS, format_for_extension
from qualedge.io.image import Image

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as OpenCV's RGB2GRAY


def quantize(x: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float in [0, 1] -> uint8/uint16 with clamping and round-half-up."""
    maxv = 255.0 if bit_depth == 8 else 65535.0
    q = np.clip(x, 0.0, 1.0) * np.float32(maxv) + np.float32(0.5)
    return q.astype(np.uint8 if bit_depth == 8 else np.uint16)


def encode_image(image: Image, ext: str, *, bit_depth: int | None = None, quality: int = 95) -> bytes:
    """Encode ``image`` to the bytes of the format named by ``ext`` (for example ``.png``)."""
    fmt = _format(ext)
    depth = bit_depth if bit_depth is not None else min(image.bit_depth, fmt.max_bit_depth)
    if depth not in (8, 16):
        raise ImageWriteError(f"bit depth {depth} is not supported: use 8 or 16.")
    rgb = quantize(image.rgb, depth)
    alpha = quantize(image.alpha, depth) if image.alpha is not None else None
    pixels = rgb if alpha is None else np.concatenate([rgb, alpha[:, :, None]], axis=2)
    return encode_pixels(pixels, ext, grey=image.grey, quality=quality)


def _format(ext: str):
    fmt = format_for_extension(ext)
    if fmt is None:
        raise ImageWriteError(
            f"cannot write '{ext}' files: unsupported extension. Use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    return fmt


def encode_pixels(pixels: np.ndarray, ext: str, *, grey: bool = False, quality: int = 95) -> bytes:
    """Encode integer pixels: uint8/uint16, (H, W, 3) RGB or (H, W, 4) RGBA; ``grey`` writes luma (+ alpha)."""
    import cv2

    fmt = _format(ext)
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ImageWriteError(f"pixels must be uint8/uint16 (H, W, 3|4), got {pixels.dtype} {pixels.shape}")
    depth = 8 if pixels.dtype == np.uint8 else 16
    if depth > fmt.max_bit_depth:
        raise ImageWriteError(
            f"{fmt.name} cannot hold {depth}-bit samples (at most {fmt.max_bit_depth}). Write PNG or TIFF, or pass bit_depth=8."
        )
    has_alpha = pixels.shape[2] == 4
    if has_alpha and not fmt.alpha:
        raise ImageWriteError(
            f"{fmt.name} has no alpha channel but the image has one. Write PNG, TIFF or WebP to keep it, "
            "or drop the alpha explicitly (image.with_pixels(image.rgb, None))."
        )
    if grey:
        maxv = 255.0 if depth == 8 else 65535.0
        luma = pixels[:, :, :3].astype(np.float32) @ _LUMA
        g = np.clip(np.floor(luma + 0.5), 0, maxv).astype(pixels.dtype)[:, :, None]
        arr = np.concatenate([g, pixels[:, :, 3:]], axis=2) if has_alpha else g
    else:
        arr = np.concatenate([pixels[:, :, 2::-1], pixels[:, :, 3:]], axis=2) if has_alpha else pixels[:, :, ::-1]
    if arr.shape[2] == 2 and depth == 8 and fmt.name == "PNG":
        return _encode_la_png(arr)
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    elif arr.shape[2] == 2:  # grey + alpha elsewhere: OpenCV has no 2-channel writer, so it becomes RGBA
        g = arr[:, :, :1]
        arr = np.concatenate([g, g, g, arr[:, :, 1:]], axis=2)
    params: list[int] = []
    if fmt.name == "JPEG":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif fmt.name == "WebP":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    elif fmt.name == "PNG":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(fmt.cv2_ext, np.ascontiguousarray(arr), params)
    if not ok:
        raise ImageWriteError(f"OpenCV could not encode a {arr.shape} {arr.dtype} image as {fmt.name}.")
    return buf.tobytes()


def _encode_la_png(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(arr), mode="LA").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def write_pixels(path: str | Path, pixels: np.ndarray, *, grey: bool = False, quality: int = 95) -> Path:
    """Write integer pixels (see :func:`encode_pixels`) atomically."""
    path = Path(path)
    check_output_dir(path, what="output image")
    return atomic_write_bytes(path, encode_pixels(pixels, path.suffix, grey=grey, quality=quality), what="output image")


def write_image(
    path: str | Path,
    image: Image | np.ndarray,
    *,
    bit_depth: int | None = None,
    quality: int = 95,
) -> Path:
    """Write ``image`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        path: destination; its extension chooses the format.
        image: an :class:`Image`, or an array accepted by :meth:`Image.from_array`.
        bit_depth: 8 or 16. Default: the image's own depth, limited to what the format holds (JPEG, BMP and WebP are
            8-bit). Asking explicitly for 16 bits in an 8-bit format is an error, never a silent downgrade.
        quality: JPEG/WebP quality (1-100; WebP above 100 is lossless).

    Raises:
        ImageWriteError: unsupported extension or depth, alpha in a format without alpha.
        OutputError: the folder does not exist or is not writable.
    """
    path = Path(path)
    if not isinstance(image, Image):
        image = Image.from_array(image)
    check_output_dir(path, what="output image")
    data = encode_image(image, path.suffix, bit_depth=bit_depth, quality=quality)
    return atomic_write_bytes(path, data, what="output image")
