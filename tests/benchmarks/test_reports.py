"""bench report --quick (what CI runs) and the device check's CPU dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from qualedge.cli import main


def test_bench_report_quick_writes_html_markdown_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["bench", "report", "--quick", "-o", str(out)]) == 0
    res = json.loads((out / "report.json").read_text())
    assert res["quick"] and len(res["latency"]) == 4  # 1 model x 2 paths x 2 tiles
    assert all(r["stages_s"]["end_to_end"] > 0 for r in res["latency"])
    assert [p["label"].split(" ")[0] for p in res["quality_vs_latency"]] == ["bicubic", "realesr-animevideov3"]
    assert res["iqa"]["metrics"] == ["piqe", "qhead"] and res["iqa"]["sbs"]
    for name in res["plots"].values():
        png = out / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    assert "## Latency against tile size and backend" in md and "<table>" in page and 'src="plots/latency_vs_tile.png"' in page
    assert "Environment:" in md and "torch" in md


def test_device_check_dry_run(tmp_path: Path) -> None:
    # its own process: the Triton kernel runs in the interpreter, which must be chosen before triton is imported
    stem = tmp_path / "dc"
    r = subprocess.run([sys.executable, "-m", "qualedge.benchmarks.device_check", "--dry", "--size", "32", "--repeats", "1", "--out", str(stem)],
                       capture_output=True, text=True, timeout=900, env={**os.environ, "TRITON_INTERPRET": "1"})  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Dry run on the CPU" in r.stdout
    res = json.loads(Path(f"{stem}-cpu-dry.json").read_text())
    assert res["dry"] and res["matmul"]["tflops"] > 0
    assert res["blend"]["checked"] and res["blend"]["max_level_diff"] <= 1 and res["blend"]["speedup"] > 0
    eager = res["diffusion"]["forms"]["eager"]
    assert eager["checked"] and eager["max_abs_loop_vs_ref"] < 1e-4 and eager["speedup"] > 0
    for sr in res["sr"]:
        assert all(p.get("checked") for p in sr["paths"].values()), sr


def test_device_pipeline_matches_reference_on_cpu() -> None:
    import cv2
    import torch
    from qualedge.benchmarks.device_check import sr_section

    img = cv2.GaussianBlur(np.random.default_rng(0).random((40, 40, 3), dtype=np.float32), (0, 0), 2)  # photo-like smoothness
    res = sr_section("realesr-animevideov3", img, device="cpu", dtype=torch.float32, compile_=False, repeats=1, tile=32, batch=2, blend="numpy")
    eager = res["paths"]["qualedge device pipeline eager"]
    assert eager["checked"] and eager["psnr_vs_fp32_db"] > 40 and res["throughput"]["gflop_per_call"] > 0
    assert res["speedup_vs_baseline"] > 0
