"""``iqa_eval``: the public function behind ``qualedge iqa-eval``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from qualedge.atomic import atomic_write_json, atomic_write_text
from qualedge.errors import ConfigError
from qualedge.iqa.agreement.cache import ScoreCache
from qualedge.iqa.agreement.data import load_hggt, load_sbs
from qualedge.iqa.agreement.report import hggt_table, sbs_tables
from qualedge.iqa.agreement.runner import evaluate_hggt, evaluate_sbs


def iqa_eval(
    *,
    metrics: Sequence[str],
    sbs: str | Path | None = None,
    hggt: str | Path | None = None,
    out: str | Path | None = None,
    crop: int | None = None,
    screen_fraction: float | None = None,
    screen_k: int = 3,
    complement_ref: str | None = None,
    cache_path: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
) -> tuple[dict, str]:
    """Evaluate ``metrics`` on SBS-style pairs and/or HGGT-style groups; returns (results, markdown)."""
    if sbs is None and hggt is None:
        raise ConfigError("iqa-eval needs --sbs MANIFEST and/or --hggt ROOT")
    if not metrics:
        raise ConfigError("iqa-eval needs at least one metric (--metrics niqe,piqe,...)")
    if screen_fraction is not None and not 0 < screen_fraction <= 1:
        raise ConfigError(f"--screen-fraction must be in (0, 1], got {screen_fraction}")
    cache = ScoreCache(cache_path)
    t0 = time.perf_counter()
    res: dict = {"metrics": list(metrics), "crop": crop}
    md = []
    try:
        if sbs is not None:
            res["sbs"] = evaluate_sbs(
                load_sbs(sbs), metrics, cache, crop=crop, screen_fraction=screen_fraction, screen_k=screen_k,
                complement_ref=complement_ref, seed=seed, progress=progress,
            )  # fmt: skip
            md.append(sbs_tables(res["sbs"]))
        if hggt is not None:
            res["hggt"] = evaluate_hggt(load_hggt(hggt), metrics, cache, crop=crop, progress=progress)
            md.append(hggt_table(res["hggt"]))
    finally:
        res["cache"] = {"path": str(cache.path), "hits": cache.hits, "misses": cache.misses}
        cache.close()
    res["seconds"] = time.perf_counter() - t0
    text = "\n\n".join(md) + "\n"
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        atomic_write_json(o / "iqa_eval.json", res)
        atomic_write_text(o / "iqa_eval.md", text)
    return res, text
