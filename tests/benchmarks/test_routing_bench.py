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
    assert "## Targets" in md and "astronaut" in md and "## Recommended default" in md
    rec = res["recommended"]
    assert rec["signal"] in ("quality", "gradient") and rec["heavy_fraction"] in (0.1, 0.2, 0.3, 0.5, 0.7)


def test_readme_status_block_from_results(tmp_path: Path, monkeypatch) -> None:
    """The README's generated status lines come from the results files (a missing file leaves its line out)."""
    from qualedge.benchmarks import readme_status

    monkeypatch.setattr(readme_status, "RESULTS", tmp_path)
    assert readme_status.status_block() == f"{readme_status.BEGIN}\n{readme_status.END}"
    (tmp_path / "router_signals.json").write_text(json.dumps({
        "heldout_srcc": {"gain": {"log10_mse_heavy_vs_compact": 0.9}, "quality": {"log10_mse_heavy_vs_compact": 0.4}},
        "heldout_crops": 68, "params": 49041}))  # fmt: skip
    block = readme_status.status_block()
    assert "gain 0.900, quality 0.400" in block and "68 held-out tiles" in block
