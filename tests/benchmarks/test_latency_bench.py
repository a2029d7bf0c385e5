"""``qualedge bench latency`` measures the native engine next to the eager baseline (one small run: the numbers are
printed, not asserted), and the cold-start program builds against the C ABI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from qualedge.io import write_image


def test_latency_bench_has_native_rows(tmp_path: Path) -> None:
    from qualedge.benchmarks.latency import main

    img = tmp_path / "in.png"
    rng = np.random.default_rng(0)
    write_image(img, rng.random((40, 48, 3), dtype=np.float32))
    out = tmp_path / "lat"
    assert main(["--model", "realesr-animevideov3", "--input", str(img), "--repeats", "1", "--paths", "native:fp32", "--no-ncnn",
                 "--no-memory", "--no-cold-start", "--threads", "1", "--tile", "32", "--out", str(out)]) == 0  # fmt: skip
    res = json.loads(out.with_suffix(".json").read_text())
    cfg = res["models"]["realesr-animevideov3"]["configs"]
    native = cfg["qualedge native fp32"]
    assert "error" not in native, native
    assert native["seconds_median"] > 0 and native["speedup_vs_eager"] > 0 and native["psnr_vs_baseline_db"] > 30  # the same model, another tiling (noise input)
    assert "qualedge native fp32" in out.with_suffix(".md").read_text()


def test_cold_start_program_compiles_against_the_header(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    from qualedge.runtime.capi_build import HERE

    src = Path(__file__).resolve().parents[2] / "benchmarks" / "cold_start.c"
    r = subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Werror", f"-I{HERE / 'include'}", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
