"""iqa-eval on small datasets in the SBS-manifest and HGGT layouts, built from real photos with known orderings
(a photo against blurred, noised and JPEG-compressed versions of itself at increasing strength)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from qualedge.cli import main
from qualedge.data.degradations import degrade
from qualedge.errors import ConfigError
from qualedge.io import read_image, write_image
from qualedge.iqa.agreement.data import load_hggt, load_sbs
from qualedge.iqa.agreement.evaluate import iqa_eval

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png")


def _crop(photo_path: Path, name: str) -> np.ndarray:
    rgb = read_image(photo_path.parent / name).rgb
    return np.ascontiguousarray(rgb[:192, :192])


@pytest.fixture(scope="module")
def sbs_root(tmp_path_factory, photo_path: Path) -> Path:
    root = tmp_path_factory.mktemp("sbs")
    (root / "img").mkdir()
    rows = []
    for i, name in enumerate(PHOTOS):
        base = _crop(photo_path, name)
        variants = {"l0": base}
        for op in ("blur", "noise"):
            for lv in (1, 2):
                variants[f"{op}{lv}"] = degrade(base, op, lv / 2, seed=i)
        for k, v in variants.items():
            write_image(root / "img" / f"{i}_{k}.png", v)
        split = "train" if i < 2 else "test"
        for op in ("blur", "noise"):
            # b is the worse image; most people prefer a, so p_b is small; order a/b alternates
            rows.append({"a": f"img/{i}_l0.png", "b": f"img/{i}_{op}1.png", "p_b": 0.1, "split": split})
            rows.append({"a": f"img/{i}_{op}2.png", "b": f"img/{i}_{op}1.png", "p_b": 0.8, "split": split})
        rows.append({"a": f"img/{i}_l0.png", "b": f"img/{i}_l0.png", "p_b": 0.5, "split": split})  # human tie: dropped
    with open(root / "pairs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["a", "b", "p_b", "split"])
        w.writeheader()
        w.writerows(rows)
    return root


@pytest.fixture(scope="module")
def hggt_root(tmp_path_factory, photo_path: Path) -> Path:
    """HGGT layout: 01 = mild unsharp mask (Positive), 02 = blur (Negative), 03 = noise (Negative), 04 = JPEG q85."""
    import cv2

    root = tmp_path_factory.mktemp("hggt")
    part = "0-3"
    votes = {  # per candidate: annotators A, B, C
        "01": ["Positive", "Positive", "Similar"],
        "02": ["Negative", "Negative", "Negative"],
        "03": ["Negative", "Similar", "Negative"],
        "04": ["Positive", "Similar", "Negative"],  # all different -> Similar
    }
    for i, name in enumerate(PHOTOS):
        stem = f"img{i:03d}"
        base = _crop(photo_path, name)
        blurred = cv2.GaussianBlur(base, (0, 0), 1.0)
        cands = {
            "01": np.clip(base + 0.6 * (base - blurred), 0, 1),
            "02": degrade(base, "blur", 0.7, i),
            "03": degrade(base, "noise", 0.6, i),
            "04": degrade(base, "jpeg", 0.1, i),
        }
        (root / "images" / part / "original").mkdir(parents=True, exist_ok=True)
        write_image(root / "images" / part / "original" / f"{stem}.png", base)
        for k, v in cands.items():
            (root / "images" / part / k).mkdir(parents=True, exist_ok=True)
            write_image(root / "images" / part / k / f"{stem}_{k}.png", v)
        for j, annot in enumerate("ABC"):
            d = root / "labels" / part / annot
            d.mkdir(parents=True, exist_ok=True)
            label = {"Picture_1": {"Name": f"{stem}.png", "File": "original", "Label": None}}
            for n, k in enumerate(sorted(cands), start=2):
                label[f"Picture_{n}"] = {"Name": f"{stem}_{k}.png", "File": k, "Label": votes[k][j]}
            (d / f"{stem}.json").write_text(json.dumps(label))
    return root


def test_loaders(sbs_root: Path, hggt_root: Path) -> None:
    pairs = load_sbs(sbs_root / "pairs.csv")
    assert len(pairs) == 20 and {p.split for p in pairs} == {"train", "test"}
    groups = load_hggt(hggt_root)
    assert len(groups) == 4 and sorted(groups[0].candidates) == ["01", "02", "03", "04"]
    assert [groups[0].label(k) for k in ("01", "02", "03", "04")] == ["Positive", "Negative", "Negative", "Similar"]


def test_iqa_eval_both_layouts_cache_and_cli(sbs_root: Path, hggt_root: Path, tmp_path: Path, capsys) -> None:
    cache = tmp_path / "scores.sqlite"
    res, text = iqa_eval(
        metrics=["piqe", "qhead"], sbs=sbs_root / "pairs.csv", hggt=hggt_root,
        out=tmp_path / "out", cache_path=cache, progress=False, complement_ref="piqe", screen_fraction=0.5, screen_k=2,
    )  # fmt: skip
    sbs, hggt = res["sbs"], res["hggt"]
    # PIQE and the quality head react strongly to blur and noise, so they order these pairs almost always right
    assert sbs["metrics"]["piqe"]["all"]["pairs"] == 16  # 4 human ties dropped
    assert sbs["metrics"]["piqe"]["all"]["accuracy"] >= 0.75
    assert set(sbs["metrics"]["piqe"]["splits"]) == {"train", "test"}
    assert hggt["labels"] == {"Positive": 4, "Similar": 4, "Negative": 8}
    assert hggt["metrics"]["piqe"]["nm"] <= 0.25  # blurred/noised negatives score worse than the original
    assert "Pairwise accuracy" in text and "SRCC within groups" in text and "Complementarity" in text and "screening" in text
    assert (tmp_path / "out" / "iqa_eval.json").is_file() and (tmp_path / "out" / "iqa_eval.md").is_file()
    first_misses = res["cache"]["misses"]
    assert first_misses > 0

    # a re-run is served from the cache: no metric computation at all
    res2, _ = iqa_eval(metrics=["piqe", "qhead"], sbs=sbs_root / "pairs.csv", hggt=hggt_root, cache_path=cache, progress=False)
    assert res2["cache"]["misses"] == 0 and res2["cache"]["hits"] > 0
    assert res2["sbs"]["metrics"]["piqe"]["all"] == sbs["metrics"]["piqe"]["all"]

    rc = main(["iqa-eval", "--hggt", str(hggt_root), "--metrics", "piqe", "--cache", str(cache), "--no-progress"])
    assert rc == 0 and "PM (%)" in capsys.readouterr().out


def test_killed_run_resumes_from_the_cache(sbs_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qualedge.iqa.agreement.runner as runner

    cache = tmp_path / "scores.sqlite"
    real = runner.read_image
    calls = {"n": 0}

    def flaky(p):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # the run is interrupted after five images were scored
        return real(p)

    monkeypatch.setattr(runner, "read_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        iqa_eval(metrics=["piqe"], sbs=sbs_root / "pairs.csv", cache_path=cache, progress=False)
    monkeypatch.setattr(runner, "read_image", real)
    res, _ = iqa_eval(metrics=["piqe"], sbs=sbs_root / "pairs.csv", cache_path=cache, progress=False)
    assert res["cache"]["hits"] == 5  # the five finished images were not scored again


def test_bad_inputs(tmp_path: Path, sbs_root: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,p_b\nimg/x.png,img/y.png,1.5\n")
    with pytest.raises(ConfigError, match="must be a fraction"):
        load_sbs(bad)
    missing = sbs_root / "missing.csv"
    missing.write_text("a,b,p_b\nimg/none.png,img/0_l0.png,0.2\n")
    with pytest.raises(ConfigError, match="not found"):
        load_sbs(missing)
    with pytest.raises(ConfigError, match="no images/ folder"):
        load_hggt(tmp_path)
    with pytest.raises(ConfigError, match="needs --sbs"):
        iqa_eval(metrics=["piqe"])
