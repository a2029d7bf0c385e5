"""NR-IQA and full-reference metrics: the typed metric table, quality maps, the quality head, agreement statistics.

``create_metric(id)`` and ``list_metrics()`` are the entry points (as ``pyiqa.create_metric`` is pyiqa's); the
heavy modules load on first use.
"""

from __future__ import annotations

from typing import Any


def create_metric(metric_id: str, **kwargs: Any):
    """A metric from the table (``qualedge.iqa.metrics.create_metric``), e.g. ``create_metric("niqe")``."""
    from qualedge.iqa.metrics import create_metric as _create

    return _create(metric_id, **kwargs)


def list_metrics() -> list[str]:
    """Every metric id of the table (built-in and ``pyiqa:<name>``)."""
    from qualedge.iqa.metrics import list_metrics as _list

    return _list()


__all__ = ["create_metric", "list_metrics"]
