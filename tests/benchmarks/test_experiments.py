"""The paper experiments' scripts run end to end in their tiny --quick settings (real data, a few steps)."""

from __future__ import annotations

import json
from pathlib import Path

from qualedge.benchmarks import paper1_experiment, restore_experiment


def test_paper1_experiment_quick(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "paper1"
    assert paper1_experiment.main(["--quick", "--seeds", "0,1", "--work", str(tmp_path / "work"), "--out", str(out)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res["sets"]) == {"set14", "bsd100"} and res["seeds"] == [0, 1]
    summ = res["sets"]["set14"]["summary"]
    assert set(summ) == {"start", "orig_only", "rand", "sma", "amo", "amo_ft"}
    assert all(summ[a]["psnr_y"]["n"] == 2 and summ[a]["psnr_y"]["mean"] > 15 for a in summ if a != "start")  # real outputs
    # the arms moved away from the shared start, and every claim has a verdict per metric
    assert all(d["raw"] > 0 for v in res["weight_distance"].values() for d in v.values())
    verdicts = {t["verdict"] for c in res["sets"]["set14"]["claims"] for t in c["metrics"].values()}
    assert verdicts <= {"holds", "fails", "cannot be told"} and verdicts
    assert (tmp_path / "work" / "amo_ft_s1" / "latest.json").is_file()
    assert "| Rand |" in out.with_suffix(".md").read_text()


def test_restore_experiment_quick(shared_data: Path, tmp_path: Path) -> None:
    res = tmp_path / "results"
    assert restore_experiment.main(["--quick", "--seeds", "0,1", "--work", str(tmp_path / "work"), "--out", str(res)]) == 0
    abl = json.loads((res / "restore_ablation.json").read_text())
    assert set(abl["arms"]) == {"adaptive", "uniform", "none", "regression"}
    assert all(a["seeds"] == [0, 1] and a["gain_rgb"]["n"] == 2 for a in abl["arms"].values())
    assert set(abl["paired_adaptive_minus"]) == {"uniform", "none", "regression"} and abl["arms"]["adaptive"]["prompt_drift"]["drift_pools"]["mean"] > 0
    md = (res / "restore_ablation.md").read_text()
    assert "| regression |" in md and "Verdicts" in md
    cdd = json.loads((res / "restore_cdd11.json").read_text())
    assert len(cdd["types"]) == 11 and cdd["experiment"]["quick"] is True
    lat = json.loads((res / "restore_latency.json").read_text())
    assert lat["unrolled"]["seconds"] > 0 and lat["loop"]["seconds"] > 0
