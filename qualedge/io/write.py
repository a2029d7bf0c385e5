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
    import cv2

    fmt = format_for_extension(ext)
    if fmt is None:
        raise ImageWriteError(
            f"cannot write '{ext}' files: unsupported extension. Use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    depth = bit_depth if bit_depth is not None else min(image.bit_depth, fmt.max_bit_depth)
    if depth not in (8, 16):
        raise ImageWriteError(f"bit depth {depth} is not supported: use 8 or 16.")
    if depth > fmt.max_bit_depth:
        raise ImageWriteError(
            f"{fmt.name} cannot hold {depth}-bit samples (at most {fmt.max_bit_depth}). Write PNG or TIFF, or pass bit_depth=8."
        )
    if image.alpha is not None and not fmt.alpha:
        raise ImageWriteError(
            f"{fmt.name} has no alpha channel but the image has one. Write PNG, TIFF or WebP to keep it, "
            "or drop the alpha explicitly (image.with_pixels(image.rgb, None))."
        )
    if image.grey:
        planes = [(image.rgb @ _LUMA)[:, :, None]]
    else:
        planes = [image.rgb[:, :, ::-1]]  # OpenCV encodes BGR
    if image.alpha is not None:
        planes.append(image.alpha[:, :, None])
    arr = quantize(np.concatenate(planes, axis=2), depth)
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
