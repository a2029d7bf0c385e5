"""Step: an INT8 form by post-training static quantization, calibrated on real photos, behind its own parity gate.

Quantization: ONNX Runtime's quantizer (``quantize_static``) writes a QDQ graph with per-channel int8 weights and
uint8 activations (MinMax ranges from the calibration crops) for the convolutions; everything else stays float, and so
do the first convolution (it sees raw pixels) and the last ``FLOAT_TAIL`` (in SR models the upsampling and output
convolutions, which write the image itself: quantizing them costs realesrgan-x4plus 16 dB on held-out photos, 30 dB
against 46 dB). Both runtimes read that graph: ONNX Runtime, and OpenVINO, which runs the quantized convolutions with
int8 kernels.

Gate: on real photo crops that were not used for calibration (the shipped example photo and every ``holdout``-th
calibration crop) the int8 output is compared with the fp32 model: PSNR to the fp32 output, and for SR models the
change of an NR metric that steered nothing here (PIQE, lower is better) between the fp32 and the int8 outputs. The
form is refused below ``min_psnr`` dB or above ``max_nr_change`` PIQE points; both limits are the export's options and
are recorded with the measurements in the manifest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from qualedge.errors import ConfigError, ExportError, ParityError

DEFAULT_MIN_PSNR = 35.0  # dB against the fp32 output on held-out real photos
DEFAULT_MAX_NR_CHANGE = 5.0  # PIQE points (0..100) the int8 output may lose against the fp32 output
CROP = 64
FLOAT_TAIL = 4  # last convolutions kept in float


def calibration_crops(folder: str | Path, in_channels: int, *, limit: int = 24, crop: int = CROP) -> list[np.ndarray]:
    """Up to ``limit`` (1, C, crop, crop) float32 crops of the photos in ``folder`` (centre and corner crops); files
    that cannot be read are skipped and named if none is left."""
    from qualedge.io import SUPPORTED_EXTENSIONS, read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"calibration folder {folder} does not exist; give a folder of real photos (PNG/JPEG) for INT8 calibration")
    crops, bad = [], []
    for p in sorted(q for q in folder.iterdir() if q.is_file() and q.suffix.lower() in SUPPORTED_EXTENSIONS and not q.name.startswith(".")):
        try:
            rgb = read_image(p).rgb
        except Exception as exc:  # noqa: BLE001 - any unreadable file: skip it, report if nothing is left
            bad.append(f"{p.name} ({str(exc).splitlines()[0][:80]})")
            continue
        if in_channels == 1:
            from qualedge.data.color import rgb_to_y

            rgb = rgb_to_y(rgb, matlab=False)[:, :, None]
        h, w = rgb.shape[:2]
        if min(h, w) < crop:
            continue
        for y, x in ((h // 2 - crop // 2, w // 2 - crop // 2), (0, 0), (h - crop, w - crop)):
            crops.append(np.ascontiguousarray(rgb[y : y + crop, x : x + crop].transpose(2, 0, 1))[None].astype(np.float32))
        if len(crops) >= limit:
            break
    if len(crops) < 2:
        raise ConfigError(f"calibration folder {folder}: found {len(crops)} usable crops of {crop}x{crop} (need >= 2 photos of at least "
                          f"{crop} px){'; unreadable: ' + ', '.join(bad) if bad else ''}")  # fmt: skip
    return crops[:limit]


def quantize_int8(fp32: Path, out: Path, calibration: list, *, input_name: str = "x") -> dict:
    """Write the QDQ int8 graph of ``fp32`` to ``out``; returns what was quantized. ``calibration``: input arrays of
    the graph's input ``input_name``, or (multi-input graphs) dicts of input name -> array."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    convs = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node if n.op_type == "Conv"]
    tail = min(FLOAT_TAIL, max(1, len(convs) // 4))
    keep_float = convs[:1] + convs[-tail:] if len(convs) > 2 else []

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([c if isinstance(c, dict) else {input_name: c} for c in calibration])

        def get_next(self):
            return next(self._it, None)

    try:
        quantize_static(str(fp32), str(out), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"], calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=keep_float)  # fmt: skip
    except Exception as exc:
        raise ExportError(f"{fp32.name}: INT8 quantization failed ({type(exc).__name__}: {str(exc)[:200]})") from exc
    return {"tool": "onnxruntime.quantization.quantize_static", "format": "QDQ", "weights": "int8 per channel", "activations": "uint8 MinMax",
            "ops": ["Conv"], "quantized_convs": len(convs) - len(keep_float), "float_convs": keep_float, "calibration_crops": len(calibration)}  # fmt: skip


def check_int8(
    reference: nn.Module, run, holdout: list[np.ndarray], *, is_sr: bool, min_psnr: float, max_nr_change: float, label: str
) -> dict:  # fmt: skip
    """The int8 gate on held-out real crops: PSNR to the fp32 model and (SR) the PIQE change; raise beyond the limits."""
    pairs = []
    for x in holdout:
        with torch.inference_mode():
            ref = reference(torch.from_numpy(x)).float().clamp(0, 1).numpy()
        pairs.append((ref, np.asarray(run(x), dtype=np.float32)))
    return gate_int8(pairs, nr_metric=is_sr, min_psnr=min_psnr, max_nr_change=max_nr_change, label=label)


def gate_int8(pairs: list[tuple[np.ndarray, np.ndarray]], *, nr_metric: bool, min_psnr: float, max_nr_change: float, label: str) -> dict:
    """The int8 gate on (fp32 output, int8 output) pairs of held-out real inputs, images in [0, 1]: PSNR and
    (``nr_metric``) the PIQE change; raises ParityError beyond the limits, else returns the report."""
    from qualedge.export.parity import _psnr

    cases, piqe_pairs = [], []
    metric = None
    if nr_metric:
        from qualedge.iqa.metrics import create_metric

        metric = create_metric("piqe")
    for i, (ref, got) in enumerate(pairs):
        ref = np.clip(ref, 0, 1)
        got = np.clip(np.nan_to_num(got, nan=0.0), 0, 1)
        case = {"input": f"photo-{i}", "psnr_db": _psnr(ref, got), "finite": bool(np.isfinite(pairs[i][1]).all())}
        if metric is not None:
            a, b = float(metric(torch.from_numpy(ref))[0]), float(metric(torch.from_numpy(got))[0])
            case.update(piqe_fp32=a, piqe_int8=b)
            piqe_pairs.append((a, b))
        cases.append(case)
    worst = min(c["psnr_db"] for c in cases)
    report = {"precision": "int8", "tolerance": {"min_psnr": min_psnr, "max_nr_change": max_nr_change if nr_metric else None},
              "cases": cases, "worst_psnr_db": worst, "on": "held-out real photo crops"}  # fmt: skip
    if piqe_pairs:
        report["nr_metric"] = "piqe (lower is better; steered nothing in this export)"
        report["piqe_fp32_mean"] = float(np.mean([a for a, _ in piqe_pairs]))
        report["piqe_int8_mean"] = float(np.mean([b for _, b in piqe_pairs]))
        report["piqe_change"] = report["piqe_int8_mean"] - report["piqe_fp32_mean"]
    ok = all(c["finite"] for c in cases) and worst >= min_psnr and (not piqe_pairs or report["piqe_change"] <= max_nr_change)
    report["passed"] = ok
    if not ok:
        change = f", PIQE change {report['piqe_change']:+.2f} (limit {max_nr_change:+.2f})" if piqe_pairs else ""
        raise ParityError(f"{label}: the int8 form loses too much: worst PSNR to fp32 {worst:.1f} dB (limit {min_psnr}){change} on held-out "
                          "photos. Nothing was written; lower the limits (--int8-min-psnr, --int8-max-nr-change) or export without int8.")  # fmt: skip
    return report
