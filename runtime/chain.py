"""Restoration then super-resolution in one call: ``qualedge restore --restore-bundle R [--bundle S]``.

The first stage's output (quantised to the input's bit depth, as if written to disk, alpha kept) is the second
stage's input; the summary is the last stage's, with the first stage's under ``"restoration"`` and its time under
``times_s["restoration"]``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from qualedge.runtime.restorer import RestoreResult
from qualedge.runtime.summary import chain_summary

from qualedge.io import Image


def pixels_to_image(result: RestoreResult, like: Image) -> Image:
    """A restore result's pixels back in qualedge's canonical image form."""
    px = result.pixels
    scale = 255.0 if px.dtype == np.uint8 else 65535.0
    rgb = px[:, :, :3].astype(np.float32) / scale
    alpha = px[:, :, 3].astype(np.float32) / scale if px.shape[2] == 4 else None
    return replace(like, rgb=np.ascontiguousarray(rgb), alpha=alpha)


class Chain:
    """Run ``stages`` (objects with ``restore(image) -> RestoreResult``) one after the other."""

    def __init__(self, *stages) -> None:
        if len(stages) < 2:
            raise ValueError("a chain needs at least two stages")
        self.stages = stages

    def restore(self, image: Image) -> RestoreResult:
        results = [self.stages[0].restore(image)]
        for stage in self.stages[1:]:
            results.append(stage.restore(pixels_to_image(results[-1], image)))
        res = results[-1]
        res.summary = chain_summary([r.summary for r in results])
        return res


__all__ = ["Chain", "pixels_to_image"]
