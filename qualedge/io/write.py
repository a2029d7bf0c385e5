"""Write an :class:`Image` (or an array) atomically as PNG, JPEG, BMP, TIFF or WebP."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qualedge.atomic import atomic_write_bytes, check_output_dir
from qualedge.errors import ImageWriteError
from qualedge.io.formats import SUPPORTED_EXTENSIONS, format_for_extension
from qualedge.io.image import Image
from qualedge.io.metadata import PhotoMetadata, embed, encode_tiff, for_output, losses

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as OpenCV's RGB2GRAY


def quantize(x: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float in [0, 1] -> uint8/uint16 with clamping and round-half-up."""
    maxv = 255.0 if bit_depth == 8 else 65535.0
    q = np.clip(x, 0.0, 1.0) * np.float32(maxv) + np.float32(0.5)
    return q.astype(np.uint8 if bit_depth == 8 else np.uint16)


def encode_image(image: Image, ext: str, *, bit_depth: int | None = None, quality: int = 95, metadata: bool = True, dpi: str = "scale") -> bytes:
    """Encode ``image`` to the bytes of the format named by ``ext`` (for example ``.png``), with the photo
    metadata it carries (``image.photo``, updated to its size; see qualedge.io.metadata) unless ``metadata`` is False."""
    fmt = _format(ext)
    depth = bit_depth if bit_depth is not None else min(image.bit_depth, fmt.max_bit_depth)
    if depth not in (8, 16):
        raise ImageWriteError(f"bit depth {depth} is not supported: use 8 or 16.")
    rgb = quantize(image.rgb, depth)
    alpha = quantize(image.alpha, depth) if image.alpha is not None else None
    pixels = rgb if alpha is None else np.concatenate([rgb, alpha[:, :, None]], axis=2)
    photo = output_metadata(image, dpi=dpi) if metadata else None
    return encode_pixels(pixels, ext, grey=image.grey, quality=quality, photo=photo)


def output_metadata(image: Image, *, dpi: str = "scale") -> PhotoMetadata | None:
    """The image's photo metadata as it must read for its current pixels (None when it has none)."""
    if image.photo is None or image.photo.empty:
        return None
    return for_output(image.photo, image.width, image.height, dpi=dpi)


def metadata_losses(image: Image, ext: str) -> list[str]:
    """What of the image's photo metadata a file with extension ``ext`` cannot hold (for the run's summary)."""
    if image.photo is None or image.photo.empty:
        return []
    return losses(image.photo, _format(ext).name)


def _format(ext: str):
    fmt = format_for_extension(ext)
    if fmt is None:
        raise ImageWriteError(
            f"cannot write '{ext}' files: unsupported extension. Use one of {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    return fmt


def encode_pixels(pixels: np.ndarray, ext: str, *, grey: bool = False, quality: int = 95, photo: PhotoMetadata | None = None) -> bytes:
    """Encode integer pixels: uint8/uint16, (H, W, 3) RGB or (H, W, 4) RGBA; ``grey`` writes luma (+ alpha);
    ``photo``: metadata to write with them (already updated to this size)."""
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
    if photo is not None and not photo.empty and fmt.name == "TIFF":  # tifffile writes the tags; RGB order
        rgb_order = arr if arr.shape[2] in (1, 2) else np.concatenate([arr[:, :, 2::-1], arr[:, :, 3:]], axis=2)
        if rgb_order.shape[2] == 2:
            g = rgb_order[:, :, :1]
            rgb_order = np.concatenate([g, g, g, rgb_order[:, :, 1:]], axis=2)
        return encode_tiff(np.ascontiguousarray(rgb_order[:, :, 0] if rgb_order.shape[2] == 1 else rgb_order), photo)
    if arr.shape[2] == 2 and depth == 8 and fmt.name == "PNG":
        data = _encode_la_png(arr)
        return embed(data, fmt.name, photo, width=arr.shape[1], height=arr.shape[0], alpha=True)[0] if photo is not None else data
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
    if photo is not None and not photo.empty:
        return embed(buf.tobytes(), fmt.name, photo, width=pixels.shape[1], height=pixels.shape[0], alpha=has_alpha)[0]
    return buf.tobytes()


def _encode_la_png(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(arr), mode="LA").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def write_pixels(path: str | Path, pixels: np.ndarray, *, grey: bool = False, quality: int = 95, photo: PhotoMetadata | None = None) -> Path:
    """Write integer pixels (see :func:`encode_pixels`) atomically, with ``photo`` metadata (already updated to their size)."""
    path = Path(path)
    check_output_dir(path, what="output image")
    return atomic_write_bytes(path, encode_pixels(pixels, path.suffix, grey=grey, quality=quality, photo=photo), what="output image")


def write_image(
    path: str | Path,
    image: Image | np.ndarray,
    *,
    bit_depth: int | None = None,
    quality: int = 95,
    metadata: bool = True,
    dpi: str = "scale",
) -> Path:
    """Write ``image`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        path: destination; its extension chooses the format.
        image: an :class:`Image`, or an array accepted by :meth:`Image.from_array`.
        bit_depth: 8 or 16. Default: the image's own depth, limited to what the format holds (JPEG, BMP and WebP are
            8-bit). Asking explicitly for 16 bits in an 8-bit format is an error, never a silent downgrade.
        quality: JPEG/WebP quality (1-100; WebP above 100 is lossless).
        metadata: write the ICC profile, EXIF, XMP and resolution the image carries (``image.photo``); what the
            format cannot hold is listed by :func:`metadata_losses`.
        dpi: "scale" (the resolution grows with the upscale factor: the printed size stays) or "keep".

    Raises:
        ImageWriteError: unsupported extension or depth, alpha in a format without alpha.
        OutputError: the folder does not exist or is not writable.
    """
    path = Path(path)
    if not isinstance(image, Image):
        image = Image.from_array(image)
    check_output_dir(path, what="output image")
    data = encode_image(image, path.suffix, bit_depth=bit_depth, quality=quality, metadata=metadata, dpi=dpi)
    return atomic_write_bytes(path, data, what="output image")
