"""BRISQUE (Mittal, Moorthy and Bovik, TIP 2012) with OpenCV's SVR model. Lower is better, clamped to 0-100.

The model files are OpenCV's (opencv_contrib ``modules/quality/samples/brisque_model_live.yml`` and
``brisque_range_live.yml``, Apache-2.0): an epsilon-SVR with an RBF kernel fitted on LIVE, which is a different fit
from the original MATLAB release, so scores differ from pyiqa's ``brisque`` (see the tolerance in the tests).
They are looked up in the data folder (``QUALEDGE_DATA/iqa/brisque``) or ``<cache>/sources/iqa/brisque``.

Features follow OpenCV's ``QualityBRISQUE`` so that scores agree with it: grey (OpenCV BGR2GRAY of the 8-bit
image) scaled to [0, 1] in float32; two scales (the second an INTER_CUBIC half-size copy); MSCN with a 7x7 Gaussian
(sigma 7/6, replicate borders) and C = 1/255; an AGGD fit of the coefficients [alpha, (l^2 + r^2) / 2] and of the four
neighbour products (zero-filled shifts) [alpha, mean, l^2, r^2]; features scaled to [-1, 1] by the range file,
then the SVR: sum(alpha_i exp(-gamma |x - sv_i|^2)) - rho.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge import paths
from qualedge.errors import MetricError
from qualedge.iqa.nss import aggd_fit, gamma_fn

MODEL_FILE = "brisque_model_live.yml"
RANGE_FILE = "brisque_range_live.yml"
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def locate_model_files() -> tuple[Path, Path]:
    roots = [r for r in (paths.shared_data_dir(), paths.cache_dir() / "sources") if r is not None]
    for root in roots:
        m, r = root / "iqa" / "brisque" / MODEL_FILE, root / "iqa" / "brisque" / RANGE_FILE
        if m.is_file() and r.is_file():
            return m, r
    where = " or ".join(str(r / "iqa" / "brisque") for r in roots) or str(paths.cache_dir() / "sources" / "iqa" / "brisque")
    raise MetricError(
        f"BRISQUE needs OpenCV's model files {MODEL_FILE} and {RANGE_FILE}; looked in {where}. Copy them from "
        "opencv_contrib (modules/quality/samples/, Apache-2.0) into "
        f"{paths.cache_dir() / 'sources' / 'iqa' / 'brisque'} or set QUALEDGE_DATA to a folder holding iqa/brisque/."
    )


def _load_opencv_yaml(path: Path) -> dict:
    import yaml

    text = path.read_text()
    text = re.sub(r"^%YAML[:\s]1\.0\s*\n---\s*\n", "", text).replace("!!opencv-matrix", "")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MetricError(f"{path}: not a readable OpenCV YAML file ({exc}).") from exc


def load_svr(model_path: Path, range_path: Path) -> dict[str, np.ndarray | float]:
    d = _load_opencv_yaml(model_path).get("opencv_ml_svm")
    r = _load_opencv_yaml(range_path).get("range")
    if not d or d.get("svmType") != "EPS_SVR" or d.get("kernel", {}).get("type") != "RBF" or not r:
        raise MetricError(f"{model_path}: expected an OpenCV EPS_SVR model with an RBF kernel and a range matrix")
    fn = d["decision_functions"][0]
    rng = np.asarray(r["data"], dtype=np.float64).reshape(r["rows"], r["cols"])
    return {
        "sv": np.asarray(d["support_vectors"], dtype=np.float64),
        "alpha": np.asarray(fn["alpha"], dtype=np.float64),
        "rho": float(fn["rho"]),
        "gamma": float(d["kernel"]["gamma"]),
        "lo": rng[0],
        "hi": rng[1],
    }


def _grey_u8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) RGB in [0, 1] -> uint8 grey exactly as OpenCV: quantise to 8 bits, then BGR2GRAY."""
    import cv2

    u8 = np.clip(np.floor(x.detach().cpu().double().numpy() * 255 + 0.5), 0, 255).astype(np.uint8)
    if u8.shape[0] == 1:
        return u8[0]
    return cv2.cvtColor(np.ascontiguousarray(u8.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)


def _scale_features(img01: np.ndarray) -> list[float]:
    """18 features at one scale; float32 arithmetic, 7x7 Gaussian (sigma 7/6) with replicate borders, as OpenCV."""
    import cv2

    img = img01.astype(np.float32)
    mu = cv2.GaussianBlur(img, (7, 7), 7.0 / 6.0, 0.0, borderType=cv2.BORDER_REPLICATE)
    var = cv2.GaussianBlur(img * img, (7, 7), 7.0 / 6.0, 0.0, borderType=cv2.BORDER_REPLICATE) - mu * mu
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(var) + np.float32(1.0 / 255.0)
    s_np = np.nan_to_num((img - mu) / sigma, nan=0.0)  # negative variance from rounding: OpenCV drops those pixels
    s = torch.from_numpy(s_np.astype(np.float64))
    alpha, ls, rs = aggd_fit(s.reshape(1, -1))
    feats = [float(alpha), float((ls**2 + rs**2) / 2)]
    h, w = s.shape
    for dr, dc in _SHIFTS:  # neighbour products with zero fill outside the image
        shifted = torch.zeros_like(s)
        ys, ye = max(0, -dr), min(h, h - dr)
        xs, xe = max(0, -dc), min(w, w - dc)
        shifted[ys:ye, xs:xe] = s[ys + dr : ye + dr, xs + dc : xe + dc]
        prod = torch.from_numpy((s_np * shifted.numpy().astype(np.float32)).astype(np.float64))
        a, l_std, r_std = aggd_fit(prod.reshape(1, -1))
        const = torch.sqrt(gamma_fn(1 / a)) / torch.sqrt(gamma_fn(3 / a))
        mean = (r_std - l_std) * (gamma_fn(2 / a) / gamma_fn(1 / a)) * const
        feats += [float(a), float(mean), float(l_std**2), float(r_std**2)]
    return feats


def brisque_features(x: torch.Tensor) -> np.ndarray:
    """36 BRISQUE features of one (C, H, W) image in [0, 1]."""
    import cv2

    g = _grey_u8(x).astype(np.float32) / np.float32(255.0)
    half = cv2.resize(g, (g.shape[1] // 2, g.shape[0] // 2), interpolation=cv2.INTER_CUBIC)
    return np.asarray(_scale_features(g) + _scale_features(half))


class BRISQUE(nn.Module):
    """BRISQUE scores (N,) for (N, C, H, W) images in [0, 1]."""

    def __init__(self, model_path: str | Path | None = None, range_path: str | Path | None = None) -> None:
        super().__init__()
        if (model_path is None) != (range_path is None):
            raise MetricError("pass both model_path and range_path, or neither")
        if model_path is None:
            model_path, range_path = locate_model_files()
        self.svr = load_svr(Path(model_path), Path(range_path))  # type: ignore[arg-type]

    def score_features(self, f: np.ndarray) -> float:
        s = self.svr
        z = -1.0 + 2.0 * (f - s["lo"]) / (s["hi"] - s["lo"])
        k = np.exp(-s["gamma"] * ((s["sv"] - z[None]) ** 2).sum(1))
        return float(np.clip(k @ s["alpha"] - s["rho"], 0.0, 100.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([self.score_features(brisque_features(img)) for img in x], dtype=torch.float32)
