"""File and folder restores: atomic outputs, skip-existing resume, progress, JSON summaries, decision maps.

Outputs keep the input's photo metadata (ICC profile, EXIF with orientation 1 and the new size, XMP, resolution
scaled with the upscale factor or kept; see qualedge.io.metadata); what the output format cannot hold is listed in
the summary under ``metadata.lost``. ``colour="convert"`` converts the input from its ICC profile to sRGB for the
model and the output back to the input's profile (LittleCMS); ``"as-is"`` (default) gives the model the pixel
values as stored.

A folder run is a loop of independent jobs: a file that cannot be read, decoded or restored costs that file only;
its error is recorded in its JSON line (``{"input_file": ..., "error": ..., "error_type": ...}``) and in the
summary at the end, and the run goes on (``fail_fast=True`` stops at the first). The caller (the CLI) exits
non-zero when any file failed. Outputs are written atomically, so a failed or killed job leaves no partial file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from qualedge.runtime.restorer import Restorer, RestoreResult

from qualedge.errors import ConfigError, OutputError, QualedgeError
from qualedge.io import SUPPORTED_EXTENSIONS, Image, read_image, write_pixels

COLOUR_MODES = ("as-is", "convert")

# errors that fail one file of a folder run (bad input, a model failure on it); anything else (a bug, out of memory)
# stops the run
PER_FILE_ERRORS = (QualedgeError, OSError, ValueError)


def decision_map_pixels(result: RestoreResult, names: list[str], size: tuple[int, int]) -> np.ndarray:
    """An RGB picture of the per-tile decisions (green: first model, red: second) shaded by tile quality."""
    import cv2

    d = result.decisions if result.decisions is not None else np.zeros((1, 1), np.int8)
    q = np.nan_to_num(result.quality if result.quality is not None else np.ones_like(d, np.float32), nan=1.0)
    colors = np.array([[40, 200, 80], [220, 50, 40], [60, 90, 230]], np.float32)
    rgb = colors[d % len(colors)] * (0.35 + 0.65 * q[..., None])
    h, w = size
    return cv2.resize(np.clip(rgb, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)


def _to_srgb(image: Image) -> Image:
    from dataclasses import replace

    from qualedge.io.metadata import convert_rgb

    if image.bit_depth != 8:
        raise ConfigError(f"{image.path}: --colour convert works on 8-bit images (LittleCMS through Pillow transforms 8-bit RGB); "
                          "this one has 16-bit samples: use --colour as-is")  # fmt: skip
    return replace(image, rgb=convert_rgb(image.rgb, image.photo.icc, None))


def _from_srgb(pixels: np.ndarray, icc: bytes) -> np.ndarray:
    from qualedge.io.metadata import convert_rgb

    rgb = convert_rgb(pixels[:, :, :3].astype(np.float32) / 255.0, None, icc)
    out = np.floor(rgb * 255 + 0.5).astype(np.uint8)
    return np.concatenate([out, pixels[:, :, 3:]], axis=2) if pixels.shape[2] == 4 else out


def restore_file(
    restorer: Restorer, src: Path, dst: Path, *, overwrite: bool = False, decision_map: bool = False, quality: int = 95, max_pixels: int | None = None,
    metadata: bool = True, dpi: str = "scale", colour: str = "as-is",
) -> dict[str, Any] | None:  # fmt: skip
    """Restore one file. Returns its summary, or None when ``dst`` exists and ``overwrite`` is off."""
    from qualedge.io.metadata import for_output, losses
    from qualedge.io.write import _format

    if colour not in COLOUR_MODES:
        raise ConfigError(f"colour must be one of {COLOUR_MODES}, got {colour!r}")
    if dst.exists() and not overwrite:
        return None
    t0 = time.perf_counter()
    image = read_image(src, max_pixels=max_pixels)
    photo = image.photo
    converted = colour == "convert" and photo is not None and photo.icc is not None
    if converted:
        image = _to_srgb(image)
    t_read = time.perf_counter() - t0
    result = restorer.restore(image)
    t1 = time.perf_counter()
    pixels = _from_srgb(result.pixels, photo.icc) if converted else result.pixels
    out_meta = for_output(photo, pixels.shape[1], pixels.shape[0], dpi=dpi) if metadata and photo is not None and not photo.empty else None
    write_pixels(dst, pixels, grey=result.grey, quality=quality, photo=out_meta)
    t_write = time.perf_counter() - t1
    s = result.summary
    s["times_s"] = {"decode": round(t_read, 4), **s["times_s"], "encode": round(t_write, 4)}
    s["times_s"]["end_to_end"] = round(time.perf_counter() - t0, 4)
    s["input_file"], s["output_file"] = str(src), str(dst)
    if photo is not None and not photo.empty:
        lost = losses(photo, _format(dst.suffix).name) if metadata else [f"{f} (metadata off)" for f in photo.fields()]
        s["metadata"] = {"input": photo.fields(), "lost": lost, "dpi": list(out_meta.dpi) if out_meta and out_meta.dpi else None,
                         "colour": "converted to sRGB for the model and back" if converted else "as stored (no conversion)"}  # fmt: skip
    if decision_map:
        dm = dst.with_name(dst.stem + ".decisions.png")
        write_pixels(dm, decision_map_pixels(result, s["models"], (image.height, image.width)))
        s["decision_map"] = str(dm)
    return s


def iter_images(folder: Path) -> Iterator[Path]:
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS and not p.name.startswith("."):
            yield p


def restore_many(
    restorer: Restorer,
    src: Path,
    dst: Path,
    *,
    overwrite: bool = False,
    json_lines: bool = False,
    decision_map: bool = False,
    ext: str | None = None,
    progress: bool = True,
    quality: int = 95,
    fail_fast: bool = False,
    max_pixels: int | None = None,
    metadata: bool = True,
    dpi: str = "scale",
    colour: str = "as-is",
) -> list[dict[str, Any]]:
    """Restore a file or every image of a folder. Existing outputs are skipped, so a killed run resumes. In a folder
    run a file that fails gets a summary with ``error`` and the run goes on (unless ``fail_fast``); a single-file
    run raises its error."""
    from tqdm import tqdm

    summaries: list[dict[str, Any]] = []
    if src.is_file():
        if dst.is_dir():
            dst = dst / f"{src.stem}{ext or src.suffix}"
        s = restore_file(restorer, src, dst, overwrite=overwrite, decision_map=decision_map, quality=quality, max_pixels=max_pixels,
                          metadata=metadata, dpi=dpi, colour=colour)  # fmt: skip
        if s is None:
            s = {"input_file": str(src), "output_file": str(dst), "skipped": "exists (use --overwrite)"}
        summaries.append(s)
        if json_lines:
            print(json.dumps(s))
        return summaries
    if not src.is_dir():
        raise ConfigError(f"{src}: no such file or folder")
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst} exists and is not a folder; a folder input needs an output folder")
    if not dst.exists():
        if not dst.parent.exists():
            raise OutputError(f"output folder {dst} cannot be created: {dst.parent} does not exist")
        dst.mkdir()
    files = list(iter_images(src))
    if not files:
        raise ConfigError(f"{src} holds no images ({', '.join(SUPPORTED_EXTENSIONS)})")
    for f in tqdm(files, desc="restore", unit="img", disable=not progress, file=sys.stderr):
        out = dst / f"{f.stem}{ext or f.suffix}"
        try:
            s = restore_file(restorer, f, out, overwrite=overwrite, decision_map=decision_map, quality=quality, max_pixels=max_pixels,
                          metadata=metadata, dpi=dpi, colour=colour)  # fmt: skip
        except PER_FILE_ERRORS as exc:
            if fail_fast:
                raise
            s = {"input_file": str(f), "output_file": str(out), "error": str(exc).splitlines()[0], "error_type": type(exc).__name__}
            print(f"{f}: failed ({s['error']}); going on with the other files", file=sys.stderr)
        if s is None:
            s = {"input_file": str(f), "output_file": str(out), "skipped": "exists (use --overwrite)"}
        summaries.append(s)
        if json_lines:
            print(json.dumps(s), flush=True)
    return summaries


def failures(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in summaries if "error" in s]
