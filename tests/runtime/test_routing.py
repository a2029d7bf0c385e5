"""Budgeted routing: the fraction and random policies, their edge cases (F = 0 / 1 reproduce the single models
exactly), the seeded control, the routing statistics, and the CLI options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from qualedge.runtime.restorer import RestoreOptions, Restorer

from qualedge.errors import ConfigError
from qualedge.io import Image, read_image
from qualedge.routing import (
    block_variance,
    edge_density,
    gradient_energy,
    heavy_count,
    route_fraction,
    route_random,
)


def _img(photo_path: Path) -> Image:
    img = read_image(photo_path)
    return img.with_pixels(np.ascontiguousarray(img.rgb[:128, :192]))  # 2 x 3 tiles of 64


def test_route_fraction_takes_the_highest_scores_and_rounds_the_budget_up() -> None:
    s = np.array([[0.1, 0.9, 0.5], [0.7, 0.2, 0.9]])
    assert route_fraction(s, 0.0).sum() == 0 and route_fraction(s, 1.0).all()
    m = route_fraction(s, 0.5)  # 3 of 6
    assert m.tolist() == [[False, True, False], [True, False, True]]
    assert route_fraction(s, 0.3).sum() == 2 and heavy_count(6, 0.25) == 2 and heavy_count(10, 0.05) == 1 and heavy_count(6, 1 / 3) == 2
    assert heavy_count(1, 0.2) == 1 and heavy_count(1, 0.0) == 0  # a one-tile image gets the heavy model for any budget
    assert route_fraction(np.array([1.0, 1.0, 1.0]), 0.3).tolist() == [True, False, False]  # ties keep tile order


def test_route_random_is_seeded_and_spends_the_budget() -> None:
    a, b, c = route_random((4, 5), 0.3, 7), route_random((4, 5), 0.3, 7), route_random((4, 5), 0.3, 8)
    assert a.sum() == 6 and (a == b).all() and not (a == c).all()


def test_statistics_rank_texture_above_flat_tiles() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((1, 3, 32, 32), 0.5, np.float32)
    textured = rng.random((1, 3, 32, 32)).astype(np.float32)
    tiles = np.concatenate([flat, textured])
    for fn in (gradient_energy, block_variance, edge_density):
        v = fn(tiles)
        assert v.shape == (2,) and v[0] == 0 and v[1] > 0


def test_fraction_zero_and_one_equal_the_single_models(bundle: Path, photo_path: Path) -> None:
    img = _img(photo_path)
    opts = dict(tile=64, overlap=8)
    compact = Restorer(bundle, RestoreOptions(policy="compact", **opts)).restore(img).pixels
    heavy = Restorer(bundle, RestoreOptions(policy="heavy", **opts)).restore(img).pixels
    for policy in ("adaptive", "random"):
        f0 = Restorer(bundle, RestoreOptions(policy=policy, heavy_fraction=0.0, **opts)).restore(img)
        f1 = Restorer(bundle, RestoreOptions(policy=policy, heavy_fraction=1.0, **opts)).restore(img)
        assert np.array_equal(f0.pixels, compact) and np.array_equal(f1.pixels, heavy)
        n = f1.summary["tiles"]["rows"] * f1.summary["tiles"]["cols"]
        assert f0.summary["routing"]["heavy_tiles"] == 0 and f1.summary["routing"]["heavy_tiles"] == n > 1


def test_adaptive_fraction_sends_the_top_scored_tiles(bundle: Path, photo_path: Path) -> None:
    from qualedge.data.degradations import degrade

    img = _img(photo_path)
    rgb = img.rgb.copy()
    rgb[:, 128:] = degrade(rgb[:, 128:], "blur", 0.9, 0)  # the last column of tiles is blurred: lowest quality
    img = img.with_pixels(rgb)
    r = Restorer(bundle, RestoreOptions(tile=64, overlap=0, heavy_fraction=2 / 6))  # the test bundle routes by quality
    res = r.restore(img)
    assert res.summary["routing"]["mode"] == "fraction" and res.summary["routing"]["signal"] == "quality"
    assert res.decisions[:, 2].tolist() == [1, 1] and res.decisions[:, :2].sum() == 0
    assert res.summary["times_s"]["router"] >= 0 and res.summary["times_s"]["quality"] > 0


def test_random_policy_is_reproducible_and_differs_by_seed(bundle: Path, photo_path: Path) -> None:
    img = _img(photo_path)

    def run(seed: int) -> np.ndarray:
        res = Restorer(bundle, RestoreOptions(tile=64, overlap=0, policy="random", heavy_fraction=0.5, seed=seed)).restore(img)
        assert res.summary["routing"]["seed"] == seed and res.summary["routing"]["heavy_tiles"] == 3
        return res.decisions

    a, b = run(3), run(3)
    assert (a == b).all()
    assert any(not (run(s) == a).all() for s in range(4, 10))


def test_statistic_router_from_the_bundle_policy(bundle: Path, photo_path: Path, tmp_path: Path) -> None:
    import shutil

    from qualedge.bundle import load_bundle, write_manifest

    b2 = tmp_path / "b2"
    shutil.copytree(bundle, b2)
    man = load_bundle(b2)
    man.policy.update(router="gradient", heavy_fraction=0.5)
    write_manifest(b2, man)
    res = Restorer(b2, RestoreOptions(tile=64, overlap=0)).restore(_img(photo_path))
    assert res.summary["routing"]["signal"] == "gradient" and res.summary["routing"]["heavy_fraction"] == 0.5
    assert res.summary["routing"]["heavy_tiles"] == 3
    man.policy.update(router="sr")  # an SR model is not a router
    write_manifest(b2, man)
    with pytest.raises(ConfigError, match="not a router"):
        Restorer(b2, RestoreOptions(tile=64))


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(heavy_fraction=1.5), r"heavy_fraction must be a number in \[0, 1\]"),
        (dict(heavy_fraction=float("nan")), "heavy_fraction must be"),
        (dict(heavy_fraction=0.2, threshold=0.5), "either heavy_fraction"),
        (dict(policy="random", threshold=0.5), "random policy spends a budget"),
        (dict(policy="random"), "needs heavy_fraction"),
        (dict(threshold=2.0), r"threshold must be a quality in \[0, 1\]"),
    ],
)
def test_bad_routing_options_are_refused(bundle: Path, kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Restorer(bundle, RestoreOptions(tile=64, **kw))


def test_cli_random_policy_with_fraction_and_seed(bundle: Path, photo_path: Path, tmp_path: Path) -> None:
    from qualedge.io import write_image

    src = tmp_path / "in.png"
    write_image(src, _img(photo_path))
    out = subprocess.run(
        [sys.executable, "-m", "qualedge", "restore", str(src), "-o", str(tmp_path / "out.png"), "--bundle", str(bundle),
         "--tile", "64", "--overlap", "0", "--policy", "random", "--heavy-fraction", "0.5", "--seed", "11", "--json", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert s["routing"] == {**s["routing"], "policy": "random", "heavy_fraction": 0.5, "seed": 11, "heavy_tiles": 3}


def test_gain_head_router_in_the_bundle(bundle: Path, photo_path: Path, tmp_path: Path) -> None:
    """A router model (the gain head) added to a bundle: the adaptive policy routes by its scores, which the ONNX form
    computes as PyTorch does; the fraction is the bundle's default."""
    import shutil

    import torch
    from qualedge.export.api import router_entry

    from qualedge.archs import build_model
    from qualedge.bundle import load_bundle, write_manifest
    from qualedge.weights.load import save_state_dict

    torch.manual_seed(0)
    net, _ = build_model("gain_head")
    w = tmp_path / "gain.safetensors"
    save_state_dict(w, net.state_dict())
    b2 = tmp_path / "b2"
    shutil.copytree(bundle, b2)
    man = load_bundle(b2)
    man.models.append(router_entry(b2, w))
    man.policy.update(router="router", heavy_fraction=1 / 3)
    write_manifest(b2, man)
    img = _img(photo_path)
    res = Restorer(b2, RestoreOptions(tile=64, overlap=0)).restore(img)
    assert res.summary["routing"]["signal"] == "gain" and res.summary["routing"]["heavy_tiles"] == 2
    x = torch.from_numpy(img.rgb.transpose(2, 0, 1).copy())
    with torch.inference_mode():
        scores = np.array([[float(net(x[None, :, r : r + 64, c : c + 64]).mean()) for c in (0, 64, 128)] for r in (0, 64)])
    assert (res.decisions == route_fraction(scores, 1 / 3)).all()
    with pytest.raises(Exception, match="router weights .* not found"):
        router_entry(b2, tmp_path / "missing.safetensors")
