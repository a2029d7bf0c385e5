"""The trained weights that ship in qualedge/assets load from the zoo and do what their cards claim, on a photo that
was never part of their training (scikit-image's 'chelsea')."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from qualedge.data.resize import imresize
from qualedge.io import read_image
from qualedge.iqa.metrics import create_metric
from qualedge.weights.zoo import load_pretrained


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1)[None]


def test_qualedge_compact_x4_beats_bicubic_on_no_reference_quality(photo_path: Path) -> None:
    hr = read_image(photo_path).rgb[:296, :448]  # multiple of 4
    lr = np.clip(imresize(hr, 0.25), 0, 1)
    model, desc = load_pretrained("qualedge-compact-x4")
    assert desc.arch_id == "srvgg" and desc.scale == 4
    with torch.inference_mode():
        sr = model.eval()(_t(lr)).clamp(0, 1)
    bic = _t(np.clip(imresize(lr, 4.0), 0, 1))
    psnr, piqe = create_metric("psnr"), create_metric("piqe")  # PIQE needs no parameter files (NIQE does)
    assert float(psnr(sr, _t(hr))[0]) > 25  # a faithful x4, not a hallucination
    # PIQE, lower is better: the card's claim on a new photo (here ~26 vs bicubic ~85; realesr-animevideov3 ~72)
    assert float(piqe(sr)[0]) < float(piqe(bic)[0]) - 20


def test_adaqual_default_restores_a_held_out_haze_rain_composite(photo_path: Path) -> None:
    from qualedge.export.defaults import RESTORE_WEIGHTS
    from qualedge.train.restore_eval import model_runner

    from qualedge.data.degradations.composite import composite

    model, desc = load_pretrained("adaqual-default")
    assert desc.arch_id == "adaqual_unet" and desc.scale == 1
    clean = np.ascontiguousarray(read_image(photo_path).rgb[:256, :256], dtype=np.float32)
    degraded = np.clip(composite(clean, "haze_rain", 3), 0, 1).astype(np.float32)
    restored = np.clip(model_runner(str(RESTORE_WEIGHTS))(degraded, 0), 0, 1)
    psnr = create_metric("psnr")
    gain = float(psnr(_t(restored), _t(clean))[0]) - float(psnr(_t(degraded), _t(clean))[0])
    assert gain > 1.0, f"PSNR gain {gain:.2f} dB"  # the card: +2.4 dB on Kodak haze_rain
