"""Golden values on pyiqa's ResultsCalibra images (in the data folder), with the tolerances pyiqa itself needs.

Tolerances, from calibration_summary.csv (pyiqa's own row against the official one, worst image):
PSNR 0.014 dB, SSIM 4e-4, NIQE 5.1 % relative, PIQE 0.005 (official values are given to 2 decimals, so the PSNR
and PIQE bounds are widened to the rounding: 0.006 and 0.0051). BRISQUE uses OpenCV's SVR model, a different fit
from the official MATLAB model, so it is checked against OpenCV's own implementation with the same files
(opencv-contrib-python 4.10.0, cv2.quality.QualityBRISQUE_compute): absolute 0.2 on natural photos and 2.5 on the
calibration set (I19 is the worst image: 81.6 vs 83.8).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from qualedge.io import read_image
from qualedge.iqa.metrics import create_metric

NAMES = ["I03.bmp", "I04.bmp", "I06.bmp", "I08.bmp", "I19.bmp"]
# cv2.quality.QualityBRISQUE_compute (opencv-contrib-python 4.10.0) with brisque_model_live.yml / brisque_range_live.yml
OPENCV_BRISQUE = {
    "calibra/dist_dir/I03.bmp": 84.4639, "calibra/dist_dir/I04.bmp": 0.0, "calibra/dist_dir/I06.bmp": 1.2867,
    "calibra/dist_dir/I08.bmp": 7.9119, "calibra/dist_dir/I19.bmp": 83.8149, "tid2013_sample/i01_01_5.bmp": 59.3539,
}  # fmt: skip
OPENCV_BRISQUE_PHOTOS = {"kodim01.png": 19.3539, "kodim15.png": 2.3975}


@pytest.fixture(scope="module")
def calibra(shared_data: Path) -> tuple[dict[str, list[float]], torch.Tensor, torch.Tensor]:
    d = shared_data / "iqa" / "calibra"
    with open(d / "results_official.csv") as f:
        official = {r[0]: [float(v) for v in r[1:]] for r in csv.reader(f) if r[0] != "Method"}

    def load(folder: str) -> torch.Tensor:
        return torch.stack([torch.from_numpy(read_image(d / folder / n).rgb).permute(2, 0, 1) for n in NAMES])

    return official, load("dist_dir"), load("ref_dir")


def test_psnr(calibra) -> None:
    official, dist, ref = calibra
    got = create_metric("psnr")(dist, ref).numpy()
    np.testing.assert_allclose(got, official["psnr"], atol=0.006)


def test_ssim(calibra) -> None:
    official, dist, ref = calibra
    got = create_metric("ssim")(dist, ref).numpy()
    np.testing.assert_allclose(got, official["ssim"], atol=4e-4)


def test_niqe(calibra) -> None:
    official, dist, _ = calibra
    got = create_metric("niqe")(dist).numpy()
    np.testing.assert_allclose(got, official["niqe"], rtol=0.051)


def test_piqe(calibra) -> None:
    official, dist, _ = calibra
    got = create_metric("piqe")(dist).numpy()
    np.testing.assert_allclose(got, official["piqe"], atol=0.0051)


def test_brisque_against_opencv(shared_data: Path) -> None:
    m = create_metric("brisque")
    for rel, expected in OPENCV_BRISQUE.items():
        x = torch.from_numpy(read_image(shared_data / "iqa" / rel).rgb).permute(2, 0, 1)[None]
        assert float(m(x)[0]) == pytest.approx(expected, abs=2.5), rel
    for name, expected in OPENCV_BRISQUE_PHOTOS.items():
        x = torch.from_numpy(read_image(shared_data / "images" / "kodak24" / name).rgb).permute(2, 0, 1)[None]
        assert float(m(x)[0]) == pytest.approx(expected, abs=0.2), name


def test_sr_conventions_y_psnr_on_set5(shared_data: Path) -> None:
    # bicubic x4 on Set5 (MATLAB imresize), Y channel, border 4: the literature's 28.42 dB
    from qualedge.data.resize import imresize

    m = create_metric("psnr_y", crop_border=4, quantize=True)
    vals = []
    for hr_p, lr_p in zip(sorted((shared_data / "images/set5/HR").glob("*.png")), sorted((shared_data / "images/set5/LR_x4").glob("*.png"))):
        lr = read_image(lr_p).rgb
        hr = read_image(hr_p).rgb[: lr.shape[0] * 4, : lr.shape[1] * 4]
        sr = np.clip(imresize(lr, 4), 0, 1)
        vals.append(float(m(torch.from_numpy(sr).permute(2, 0, 1)[None], torch.from_numpy(hr).permute(2, 0, 1)[None])[0]))
    assert np.mean(vals) == pytest.approx(28.42, abs=0.02)
