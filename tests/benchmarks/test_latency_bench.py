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
                 "--no-memory", "--no-cold-start", "--no-restoration", "--threads", "1", "--tile", "32", "--out", str(out)]) == 0  # fmt: skip
    res = json.loads(out.with_suffix(".json").read_text())
    cfg = res["models"]["realesr-animevideov3"]["configs"]
    native = cfg["qualedge native fp32"]
    assert "error" not in native, native
    assert native["seconds_median"] > 0 and native["speedup_vs_eager"] > 0 and native["psnr_vs_baseline_db"] > 30  # the same model, another tiling (noise input)
    assert "qualedge native fp32" in out.with_suffix(".md").read_text()


def test_restoration_and_chain_rows(rbundle: Path, bundle: Path, tmp_path: Path, monkeypatch) -> None:
    """The restoration and chain rows run both runtimes on a degraded photo (here on the test bundles in place of the
    embedded defaults) and compare the native output with the Python runtime's."""
    from qualedge.benchmarks import latency
    from qualedge.benchmarks.latency_restore import markdown_lines, restoration_rows
    from qualedge.export import defaults

    monkeypatch.setattr(defaults, "ensure_default_restore_bundle", lambda log=None: rbundle)
    monkeypatch.setattr(defaults, "ensure_default_bundle", lambda log=None: bundle)
    monkeypatch.setattr("qualedge.benchmarks.latency_restore.RESTORE_SIZE", 96)
    monkeypatch.setattr("qualedge.benchmarks.latency_restore.CHAIN_SIZE", 64)
    # the int8 export of the embedded weights is tested in tests/export/test_int8.py; here its refusal is reported
    monkeypatch.setattr("qualedge.benchmarks.latency_restore._int8_bundle", lambda work: (None, {"error": "refused here"}))
    res = restoration_rows(tmp_path, repeats=1, threads=1, bf16=False, run=latency._run, summarise=latency._summarise)
    for part, keys in (("restoration", ["python unrolled fp32", "python loop fp32", "native unrolled fp32", "native loop fp32"]),
                       ("chain", ["python unrolled fp32", "native unrolled fp32"])):  # fmt: skip
        cfg = res[part]["configs"]
        assert sorted(cfg) == sorted(keys)
        for k in keys:
            assert "error" not in cfg[k], (part, k, cfg[k])
            assert cfg[k]["seconds_per_mp"] > 0 and cfg[k]["peak_rss_mb"] > 0
            assert cfg[k]["engine_used"] == ("native" if k.startswith("native") else "python")
            if k.startswith("native"):
                assert cfg[k]["psnr_vs_python_db"] >= 45, (part, k, cfg[k]["psnr_vs_python_db"])
    text = "\n".join(markdown_lines(res))
    assert "native unrolled fp32" in text and "chain" in text and "refused by the export's gate: refused here" in text


def test_cold_start_program_compiles_against_the_header(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on this machine")
    from qualedge.runtime.capi_build import HERE

    src = Path(__file__).resolve().parents[2] / "benchmarks" / "cold_start.c"
    r = subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Werror", f"-I{HERE / 'include'}", str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
