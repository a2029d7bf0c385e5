"""``qualedge bench routing`` end to end on the runtime tests' bundle with one photo and one seed: every curve point
is measured, the paired comparison and the target verdicts are computed, the plot and the markdown are written."""

from __future__ import annotations

import json
from pathlib import Path


def test_bench_routing_quick(bundle: Path, tmp_path: Path) -> None:
    from qualedge.benchmarks.routing import main

    out = tmp_path / "routing"
    argv = ["--bundle", str(bundle), "--sets", "skimage", "--limit", "1", "--seeds", "1", "--signals", "bundle,gradient",
            "--tile", "48", "--overlap", "8", "--threads", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert res["settings"]["sets"]["skimage"] == ["astronaut"]
    n_configs = 2 + 2 * 5 + 1 * 5  # compact, heavy; two adaptive signals and one random seed at five inner fractions
    assert len(res["rows"]) == n_configs
    a = res["analysis"]["skimage"]
    assert set(a["curves"]) == {"adaptive:bundle", "adaptive:gradient", "random"}
    assert [p["fraction"] for p in a["curves"]["random"]] == [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    heavy_rows = [r for r in res["rows"] if r["config"] == "heavy"]
    assert all(r["psnr_to_heavy"] == float("inf") or r["psnr_to_heavy"] > 99 for r in heavy_rows)
    assert "psnr_to_heavy" in a["paired"]["gradient@0.3"]
    assert "skimage" in res["verdicts"]["gradient"]
    assert out.with_suffix(".png").stat().st_size > 10_000
    md = out.with_suffix(".md").read_text()
    assert "## Targets" in md and "astronaut" in md
