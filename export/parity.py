"""Step: the parity gate. Every exported form is run against PyTorch (fp32) on fresh random inputs and on real
photos; max absolute error and PSNR between the outputs are recorded, and a form outside its tolerance fails the
export (nothing is written).

Tolerances (outputs clipped to the model's value range, PSNR over the whole output):
- fp32 ONNX: PSNR >= 60 dB and max |diff| <= 5e-3 (float reassociation only);
- fp16 ONNX: PSNR >= 40 dB, and no NaN/Inf;
- TensorRT plans: as their precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge.errors import ParityError

TOLERANCES = {"fp32": {"min_psnr": 60.0, "max_abs": 5e-3}, "fp16": {"min_psnr": 40.0, "max_abs": None}, "mixed": {"min_psnr": 40.0, "max_abs": None}}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def ort_runner(path: str | Path, providers: Sequence[str] = ("CPUExecutionProvider",)) -> Callable[..., np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=so, providers=list(providers))
    names = [i.name for i in sess.get_inputs()]

    def run(*arrays: np.ndarray) -> np.ndarray:
        return sess.run(None, {n: a for n, a in zip(names, arrays)})[0]

    return run


def check_parity(
    reference: nn.Module,
    run: Callable[..., np.ndarray],
    inputs: Sequence[tuple[str, tuple[np.ndarray, ...]]],
    *,
    precision: str,
    value_range: tuple[float, float] = (0.0, 1.0),
    label: str = "",
) -> dict:
    """Compare ``run`` with ``reference`` on named inputs; raise ParityError outside the precision's tolerance."""
    tol = TOLERANCES[precision]
    lo, hi = value_range
    cases = []
    for name, arrays in inputs:
        with torch.inference_mode():
            ref = reference(*[torch.from_numpy(a) for a in arrays]).float().numpy()
        got = np.asarray(run(*arrays), dtype=np.float32)
        finite = bool(np.isfinite(got).all())
        if got.shape != ref.shape:
            raise ParityError(f"{label}: output shape {got.shape} differs from PyTorch's {ref.shape} on input {name}")
        rc, gc = np.clip(ref, lo, hi), np.clip(np.nan_to_num(got, nan=0.0), lo, hi)
        scale = hi - lo
        cases.append(
            {
                "input": name,
                "shape": list(arrays[0].shape),
                "max_abs": float(np.max(np.abs(rc - gc))),
                "psnr_db": _psnr(rc / scale, gc / scale),
                "finite": finite,
            }
        )
    worst_psnr = min(c["psnr_db"] for c in cases)
    worst_abs = max(c["max_abs"] for c in cases)
    ok = all(c["finite"] for c in cases) and worst_psnr >= tol["min_psnr"] and (tol["max_abs"] is None or worst_abs <= tol["max_abs"])
    report = {"precision": precision, "tolerance": tol, "cases": cases, "worst_psnr_db": worst_psnr, "worst_max_abs": worst_abs, "passed": ok}
    if not ok:
        bad = [c for c in cases if not c["finite"] or c["psnr_db"] < tol["min_psnr"] or (tol["max_abs"] is not None and c["max_abs"] > tol["max_abs"])]
        limit_abs = "" if tol["max_abs"] is None else f" (needs <= {tol['max_abs']})"
        raise ParityError(
            f"{label}: parity gate failed for the {precision} form: worst PSNR {worst_psnr:.1f} dB "
            f"(needs >= {tol['min_psnr']}), worst max |diff| {worst_abs:.3g}{limit_abs}; failing inputs: "
            f"{[c['input'] for c in bad]}. Nothing was written."
        )
    return report


def parity_inputs(in_channels: int, sizes: Sequence[int], real: Sequence[np.ndarray] = (), seed: int = 0) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    """Fresh random inputs (uniform noise and smooth random fields) of the given sizes plus real photo crops."""
    rng = np.random.default_rng(seed)
    out = []
    for s in sizes:
        out.append((f"uniform-{s}", (rng.random((1, in_channels, s, s), dtype=np.float32),)))
        coarse = rng.random((1, in_channels, max(2, s // 8), max(2, s // 8)), dtype=np.float32)
        smooth = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(s, s), mode="bicubic", align_corners=False).clamp(0, 1).numpy()
        out.append((f"smooth-{s}", (smooth,)))
    for i, r in enumerate(real):
        out.append((f"photo-{i}", (np.ascontiguousarray(r, dtype=np.float32),)))
    return out
