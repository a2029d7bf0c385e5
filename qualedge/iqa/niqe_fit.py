"""Fit a NIQE pristine model from a folder of pristine photos and save it as .npz (``qualedge fit-niqe``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from qualedge.atomic import atomic_write_bytes
from qualedge.errors import ConfigError
from qualedge.io import SUPPORTED_EXTENSIONS, read_image
from qualedge.iqa.niqe import fit_pristine_model


def fit_niqe_folder(folder: str | Path, output: str | Path, *, sharpness_threshold: float = 0.75) -> tuple[int, int]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder of pristine photos")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_EXTENSIONS)
    if not files:
        raise ConfigError(f"{folder}: holds no images ({', '.join(SUPPORTED_EXTENSIONS)})")

    def images():
        for f in files:
            yield torch.from_numpy(read_image(f).rgb).permute(2, 0, 1)[None]

    mu, cov, n_blocks = fit_pristine_model(images(), sharpness_threshold=sharpness_threshold)
    buf = io.BytesIO()
    np.savez(buf, mu_prisparam=mu, cov_prisparam=cov, n_blocks=n_blocks, n_images=len(files))
    atomic_write_bytes(output, buf.getvalue(), what="NIQE model")
    return len(files), n_blocks
