"""qualedge's learned quality head: a small CNN that gives a dense quality map (one value per 16x16 cell) in one pass.

Trained by ``qualedge train-qhead`` to reproduce a teacher metric on tiles (by default the mean of normalised NIQE
and PIQE) plus a ranking loss on known degradation orders. Output: quality in [0, 1], higher is better, per cell;
the score of an image or tile is the mean of its cells. Fully convolutional and differentiable, so it serves as the
runtime's quality map, as the reward Q in LoRA fine-tuning, and exports to ONNX.

Architecture (0.24 M parameters, about 16 ms per megapixel on 2 CPU threads): a 4x4 stride-4 "patchify"
convolution (a learned local transform that keeps the high frequencies noise and blur live in), 3x3 convolutions
down to 1/16 resolution (32-48-96 channels), two dilated 3x3 convolutions (receptive field about 236 px), a 1x1
convolution and a sigmoid.
"""

from __future__ import annotations

from pathlib import Path

from qualedge import paths
from qualedge.archs.quality_head import CELL, CellMap, QualityHead
from qualedge.errors import WeightsNotFoundError

__all__ = ["CELL", "CellMap", "QualityHead", "DEFAULT_WEIGHTS", "load_quality_head"]
DEFAULT_WEIGHTS = paths.asset("weights", "quality_head.safetensors")


def load_quality_head(weights: str | Path | None = None) -> QualityHead:
    """The shipped head (or ``weights``), in eval mode."""
    from qualedge.weights.load import load_state_dict
    from qualedge.weights.zoo import load_into

    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        raise WeightsNotFoundError(
            f"quality head weights {path} not found. They ship with qualedge (qualedge/assets/weights/); reinstall, or "
            "train your own with 'qualedge train-qhead' and pass weights=PATH."
        )
    head = QualityHead()
    load_into(head, load_state_dict(path), source=str(path))
    return head.eval()
