"""The default bundle's routing is the routing bench's recommendation, not a hand-picked number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "routing.json"


def test_default_routing_is_the_measured_recommendation() -> None:
    from qualedge.export.defaults import ROUTING

    if not RESULTS.is_file():
        pytest.skip(f"{RESULTS} is absent (a checkout without benchmark results)")
    res = json.loads(RESULTS.read_text())
    assert ROUTING["tile"] == res["settings"]["tile"] and ROUTING["overlap"] == res["settings"]["overlap"]
    assert res["settings"]["signals"]["bundle"] == "gain"  # the bench measured the default bundle's router, the gain head
    f = ROUTING["heavy_fraction"]
    for set_name, a in res["analysis"].items():  # at the default budget the gain router beats random routing on every set
        cmp = a["paired"][f"bundle@{f}"]["psnr_to_heavy"]
        assert cmp["mean_diff"] > 0 and cmp["wins"] > cmp["n"] / 2, set_name


def test_default_bundle_policy_routes_by_budget_with_the_gain_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy the default bundle is exported with (checked without exporting: the export takes minutes)."""
    import qualedge.export.api as api
    from qualedge.export import defaults

    seen = {}

    def fake_export(target, sources, **kw):
        seen.update(kw, sources=[s.pretrained for s in sources])
        raise RuntimeError("stop")

    monkeypatch.setattr(api, "export_bundle", fake_export)
    monkeypatch.setattr(defaults, "_ensure", lambda target, build, what, log: build(target))
    with pytest.raises(RuntimeError, match="stop"):
        defaults.ensure_default_bundle(log=lambda m: None)
    assert seen["sources"] == [defaults.COMPACT, defaults.HEAVY] and seen["quality_head"]
    assert Path(seen["router"]).is_file() and seen["heavy_fraction"] == defaults.ROUTING["heavy_fraction"]
    assert seen["routing_tile"] == defaults.ROUTING["tile"] and seen["overlap"] == defaults.ROUTING["overlap"]
