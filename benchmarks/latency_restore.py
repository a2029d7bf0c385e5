"""Restoration and chain rows of ``qualedge bench latency``: the embedded AdaQual-Diff default bundle on a degraded
real photo, on the Python runtime (ONNX Runtime) and the native engine (libqualedge over OpenVINO), unrolled graph
and per-step loop (native bf16 where the CPU has bf16 instructions and the bundle passes its parity probe; int8 forms
exported from the default weights when the export's gate accepts them); then restoration + x4 chains (the default SR bundle) on both runtimes. Seconds per megapixel of input and peak RSS, each run
in its own process, medians after a warm-up run; native outputs compared with the Python runtime's (PSNR).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESTORE_SIZE = 512  # restoration rows: a 512x512 crop
CHAIN_SIZE = 192  # chain rows: the x4 stage runs the default SR bundle (30 % of tiles on realesrgan-x4plus)
KIND = "haze_rain"  # the CDD-11 composite the input carries


def _degraded_photo(path: Path, size: int) -> Path:
    """A crop of the benchmarks' real photo (latency.photo_rgb) with the KIND composite."""
    from qualedge.benchmarks.latency import photo_rgb

    from qualedge.data.degradations.composite import composite
    from qualedge.io import write_image

    write_image(path, composite(np.ascontiguousarray(photo_rgb()[:size, :size]), KIND, np.random.default_rng(0)))
    return path


def _int8_bundle(work: Path) -> tuple[Path | None, dict]:
    """The default restoration weights exported with int8 forms (calibrated on the latency bench's calibration photos,
    gated at the export defaults); (None, why) when the gate refuses them or the export fails."""
    from qualedge.benchmarks.latency import calibration_folder
    from qualedge.export.defaults import RESTORE_TILE, RESTORE_WEIGHTS
    from qualedge.export.restore_export import export_restore_bundle

    from qualedge.errors import QualedgeError

    out = work / "restore-int8"
    try:
        man = export_restore_bundle(out, weights=str(RESTORE_WEIGHTS), tile=RESTORE_TILE, precisions=("fp32", "int8"), calibration=calibration_folder(),
                                    overwrite=True)  # fmt: skip
    except QualedgeError as exc:
        return None, {"error": str(exc).splitlines()[0][:300]}
    gate = {m: man.model(m).form("onnx", "int8").parity for m in ("restore", "restore_step")}
    return out, {m: {"worst_psnr_db": g["worst_psnr_db"], "piqe_change": g.get("piqe_change"), "tolerance": g["tolerance"]} for m, g in gate.items()}


def restoration_rows(work: Path, *, repeats: int, threads: int, bf16: bool, run: Callable, summarise: Callable) -> dict[str, Any]:
    from qualedge.benchmarks.latency import _psnr_files
    from qualedge.export.defaults import ensure_default_bundle, ensure_default_restore_bundle

    from qualedge.io import read_header

    rb, sb = ensure_default_restore_bundle(log=lambda m: None), ensure_default_bundle(log=lambda m: None)
    out: dict[str, Any] = {}
    for part, size, sr in (("restoration", RESTORE_SIZE, None), ("chain", CHAIN_SIZE, sb)):
        inp = _degraded_photo(work / f"{part}-in.png", size)
        _, w, h = read_header(inp)
        cfgs: dict[str, list[str]] = {}
        for engine in ("python", "native"):
            for mode in ("unrolled", "loop") if part == "restoration" else ("unrolled",):
                cfgs[f"{engine} {mode} fp32"] = [engine, mode, "fp32"]
        if bf16 and part == "restoration":
            cfgs["native unrolled bf16"] = ["native", "unrolled", "bf16"]
            cfgs["native loop bf16"] = ["native", "loop", "bf16"]
        if part == "restoration":
            rb8, int8_gate = _int8_bundle(work)
            out["restoration_int8_gate"] = int8_gate
            if rb8 is not None:
                cfgs["python loop int8"] = ["python", "loop", "int8"]
                cfgs["native loop int8"] = ["native", "loop", "int8"]
        runs: dict[str, list[dict]] = {k: [] for k in cfgs}
        for rep in range(repeats + 1):  # the first round is a warm-up
            for k, (engine, mode, prec) in cfgs.items():
                bundle_r = rb8 if prec == "int8" else rb
                argv = ["--mode", "restore", "--restore-bundle", str(bundle_r), "--backend", engine, "--restore-mode", mode, "--precision", prec,
                        "--policy", "adaptive", "--output", str(work / f"{part}-{k.replace(' ', '-')}.png"), *(["--bundle", str(sr)] if sr else [])]  # fmt: skip
                r = run({"argv": argv, "threads": threads}, ["--input", str(inp), "--threads", str(threads)])
                if rep > 0 or "error" in r:
                    runs[k].append({**r, "engine_used": r.get("engine")})
        configs = {}
        for k, rs in runs.items():
            c = summarise(rs, w, h)
            if "seconds_median" in c:
                c["seconds_per_mp"] = c["seconds_median"] / (w * h / 1e6)
                c["engine_used"] = rs[0].get("engine")
                ref = work / f"{part}-python-{k.split(' ')[1]}-fp32.png"
                if k != f"python {k.split(' ')[1]} fp32" and ref.is_file():  # against the Python runtime in fp32
                    c["psnr_vs_python_db"] = _psnr_files(work / f"{part}-{k.replace(' ', '-')}.png", ref)
            configs[k] = c
        entry: dict[str, Any] = {"input_size": [w, h], "degradation": KIND, "bundle": Path(rb).name, "configs": configs}
        if sr:
            entry["sr_bundle"] = Path(sr).name
        for mode in ("unrolled", "loop"):
            a, b = configs.get(f"python {mode} fp32", {}), configs.get(f"native {mode} fp32", {})
            if "seconds_median" in a and "seconds_median" in b:
                entry[f"native_vs_python_{mode}"] = a["seconds_median"] / b["seconds_median"]
        nu, nl = configs.get("native unrolled fp32", {}), configs.get("native loop fp32", {})
        if "seconds_median" in nu and "seconds_median" in nl:
            entry["native_faster_mode"] = "unrolled" if nu["seconds_median"] <= nl["seconds_median"] else "loop"
            entry["native_unrolled_vs_loop"] = nl["seconds_median"] / nu["seconds_median"]
        out[part] = entry
    return out


def markdown_lines(res: dict[str, Any]) -> list[str]:
    """The restoration and chain section of latency_cpu.md."""
    if "restoration" not in res:
        return []
    gate = res.get("restoration_int8_gate", {})
    when = f" (rerun {res['restoration_date']} with `--only-restoration`, same machine)" if "restoration_date" in res else ""
    lines = ["", f"## Restoration and chains (AdaQual-Diff default bundle){when}", "",
             "| rows | input | configuration | end to end s (min-max) | s per MP | peak RSS MB | output vs Python runtime fp32 |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for part in ("restoration", "chain"):
        e = res.get(part)
        if not e:
            continue
        size = f"{e['input_size'][0]}x{e['input_size'][1]} {e['degradation']}"
        for k, c in e["configs"].items():
            if "error" in c:
                lines.append(f"| {part} | {size} | {k} | unavailable: {c['error'][:80]} | | | |")
                continue
            q = f"{c['psnr_vs_python_db']:.1f} dB" if "psnr_vs_python_db" in c else ("reference" if k.startswith("python") and k.endswith("fp32") else "")
            lines.append(f"| {part} | {size} | {k} | {c['seconds_median']:.2f} ({c['seconds_min']:.2f}-{c['seconds_max']:.2f}) | {c['seconds_per_mp']:.2f} | "
                         f"{c['peak_rss_mb']:.0f} | {q} |")  # fmt: skip
    lines.append("")
    r, ch = res["restoration"], res.get("chain", {})
    notes = []
    for mode in ("unrolled", "loop"):
        if f"native_vs_python_{mode}" in r:
            notes.append(f"restoration, {mode}: native is {r[f'native_vs_python_{mode}']:.2f}x the Python runtime's speed")
    if "native_faster_mode" in r:
        from qualedge.runtime.diffusion_restorer import DEFAULT_MODE

        notes.append(f"the native unrolled graph is {r['native_unrolled_vs_loop']:.2f}x the speed of the native step loop (faster here: "
                     f"{r['native_faster_mode']}; the default is {DEFAULT_MODE})")  # fmt: skip
    if "native_vs_python_unrolled" in ch:
        notes.append(f"chain (restoration + x4 on {ch.get('sr_bundle')}): native is {ch['native_vs_python_unrolled']:.2f}x the Python runtime's speed")
    if notes:
        lines.append("; ".join(notes) + ".")
    if "error" in gate:
        lines += ["", f"INT8 restoration forms: refused by the export's gate: {gate['error']}"]
    elif gate:
        lines += ["", "INT8 restoration forms (calibrated on degraded crops of the calibration photos, gated on held-out ones at the export "
                  "defaults): " + "; ".join(f"{m}: worst {g['worst_psnr_db']:.1f} dB to fp32, PIQE change {g['piqe_change']:+.2f}" for m, g in gate.items()) + "."]  # fmt: skip
    return lines


__all__ = ["markdown_lines", "restoration_rows"]
