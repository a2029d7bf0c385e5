"""Real-ESRGAN-style blind degradation: HR -> LR through two rounds of blur, resize, noise and JPEG.

The published recipe (Wang et al., Real-ESRGAN, ICCVW 2021), with its default ranges as the config defaults:
1. first order: blur with a random kernel (isotropic/anisotropic Gaussian, generalized Gaussian, plateau; or a sinc
   kernel with probability 0.1), random resize (up 20 %, down 70 %, keep 10 %, scale 0.15-1.5, area/bilinear/bicubic),
   Gaussian (colour or grey) or Poisson noise, JPEG compression (quality 30-95);
2. second order: the same with milder ranges (blur with probability 0.8);
3. final: resize to HR/scale, then [sinc filter, JPEG] or [JPEG, sinc filter] in random order.
Everything is drawn from one seeded generator, so a sample is reproducible from its seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass(frozen=True)
class OrderConfig:
    blur_prob: float = 1.0
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sigma: tuple[float, float] = (0.2, 3.0)
    betag: tuple[float, float] = (0.5, 4.0)
    betap: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_sigma: tuple[float, float] = (1.0, 30.0)  # on 0-255
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[int, int] = (30, 95)


@dataclass(frozen=True)
class BlindConfig:
    first: OrderConfig = OrderConfig()
    second: OrderConfig = OrderConfig(
        blur_prob=0.8, sigma=(0.2, 1.5), betag=(0.5, 4.0), betap=(1.0, 2.0), resize_prob=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2), noise_sigma=(1.0, 25.0), poisson_scale=(0.05, 2.5),
    )  # fmt: skip
    final_sinc_prob: float = 0.8
    kernel_range: tuple[int, int] = (7, 21)


def _grid(k: int) -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(k) - (k - 1) / 2
    return np.meshgrid(ax, ax, indexing="xy")


def random_kernel(rng: np.random.Generator, cfg: OrderConfig, size: int) -> np.ndarray:
    """A normalised blur kernel of side ``size`` drawn from the configured families."""
    kind = KERNELS[rng.choice(len(KERNELS), p=np.asarray(cfg.kernel_prob) / sum(cfg.kernel_prob))]
    xx, yy = _grid(size)
    if kind.endswith("iso") and not kind.endswith("aniso"):
        s = rng.uniform(*cfg.sigma)
        sx, sy, theta = s, s, 0.0
    else:
        sx, sy, theta = rng.uniform(*cfg.sigma), rng.uniform(*cfg.sigma), rng.uniform(-math.pi, math.pi)
    c, s_ = math.cos(theta), math.sin(theta)
    u, v = c * xx + s_ * yy, -s_ * xx + c * yy
    d = (u / sx) ** 2 + (v / sy) ** 2  # squared Mahalanobis distance
    if kind.startswith("generalized"):
        beta = rng.uniform(*cfg.betag)
        k = np.exp(-0.5 * np.power(d, beta))
    elif kind.startswith("plateau"):
        beta = rng.uniform(*cfg.betap)
        k = 1.0 / (np.power(d, beta) + 1.0)
    else:
        k = np.exp(-0.5 * d)
    return (k / k.sum()).astype(np.float32)


def sinc_kernel(rng: np.random.Generator, size: int) -> np.ndarray:
    """A 2-D circular low-pass (sinc) kernel; produces ringing and overshoot artefacts."""
    from scipy.special import j1

    omega = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi)
    xx, yy = _grid(size)
    r = np.sqrt(xx**2 + yy**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = omega * j1(omega * r) / (2 * math.pi * r)
    k[r == 0] = omega**2 / (4 * math.pi)
    return (k / k.sum()).astype(np.float32)


def _filter(img: np.ndarray, k: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)


def _resize(img: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    mode = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[rng.integers(0, 3)]
    return cv2.resize(img, (max(1, w), max(1, h)), interpolation=mode)


def _noise(img: np.ndarray, rng: np.random.Generator, cfg: OrderConfig) -> np.ndarray:
    grey = rng.random() < cfg.gray_noise_prob
    shape = img.shape[:2] + ((1,) if grey else (img.shape[2],))
    if rng.random() < cfg.gaussian_noise_prob:
        n = rng.normal(0.0, rng.uniform(*cfg.noise_sigma) / 255.0, shape)
    else:
        scale = rng.uniform(*cfg.poisson_scale)
        src = np.clip(img, 0, 1)
        if grey:
            src = (src @ np.array([0.299, 0.587, 0.114], np.float32))[:, :, None]
        vals = 2 ** np.ceil(np.log2(max(len(np.unique((src * 255).astype(np.uint8))), 2)))
        n = (rng.poisson(src * vals) / vals - src) * scale
    return img + n.astype(np.float32)


def _jpeg(img: np.ndarray, rng: np.random.Generator, q_range: tuple[int, int]) -> np.ndarray:
    from qualedge.data.degradations.jpeg import apply as jpeg_apply

    q = int(rng.integers(q_range[0], q_range[1] + 1))
    strength = (95 - q) / 90.0  # jpeg.apply maps strength 0..1 to quality 95..5
    return jpeg_apply(np.clip(img, 0, 1), strength, rng)


def _order(img: np.ndarray, rng: np.random.Generator, cfg: OrderConfig, kernel_range: tuple[int, int]) -> np.ndarray:
    h, w = img.shape[:2]
    if rng.random() < cfg.blur_prob:
        size = int(rng.choice(np.arange(kernel_range[0], kernel_range[1] + 1, 2)))
        k = sinc_kernel(rng, size) if rng.random() < cfg.sinc_prob else random_kernel(rng, cfg, size)
        img = _filter(img, k)
    kind = rng.choice(3, p=np.asarray(cfg.resize_prob) / sum(cfg.resize_prob))
    scale = 1.0 if kind == 2 else (rng.uniform(1.0, cfg.resize_range[1]) if kind == 0 else rng.uniform(cfg.resize_range[0], 1.0))
    if scale != 1.0:
        img = _resize(img, int(h * scale), int(w * scale), rng)
    img = np.clip(_noise(img, rng, cfg), 0, 1)
    return _jpeg(img, rng, cfg.jpeg_range)


def blind_degrade(hr: np.ndarray, scale: int, seed: int | np.random.Generator, cfg: BlindConfig = BlindConfig()) -> np.ndarray:
    """Degrade an (H, W, 3) float image in [0, 1] (H, W multiples of ``scale``) to (H/scale, W/scale, 3)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    h, w = hr.shape[:2]
    x = _order(hr.astype(np.float32), rng, cfg.first, cfg.kernel_range)
    x = _order(x, rng, cfg.second, cfg.kernel_range)
    x = _resize(x, h // scale, w // scale, rng)
    use_sinc = rng.random() < cfg.final_sinc_prob
    size = int(rng.choice(np.arange(cfg.kernel_range[0], cfg.kernel_range[1] + 1, 2)))
    k = sinc_kernel(rng, size) if use_sinc else None
    if rng.random() < 0.5:
        if k is not None:
            x = _filter(x, k)
        x = _jpeg(x, rng, cfg.second.jpeg_range)
    else:
        x = _jpeg(x, rng, cfg.second.jpeg_range)
        if k is not None:
            x = _filter(x, k)
    return np.clip(x, 0, 1).astype(np.float32)


def bicubic_degrade(hr: np.ndarray, scale: int) -> np.ndarray:
    """The classical SR degradation: MATLAB bicubic downscaling, quantised to 8 bits."""
    from qualedge.data.resize import imresize

    lr = imresize(hr, 1.0 / scale)
    return (np.floor(np.clip(lr, 0, 1) * 255 + 0.5) / 255).astype(np.float32)
