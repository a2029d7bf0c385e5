"""qualedge: quality-aware image enhancement, from IQA-guided training to edge runtimes.

``import qualedge`` is light (no torch, OpenCV or ONNX); import the submodule you need:
``qualedge.io``, ``qualedge.archs``, ``qualedge.weights``, ``qualedge.iqa``, ``qualedge.train``,
``qualedge.export``, ``qualedge.runtime``, ``qualedge.benchmarks``.
"""

from qualedge._version import __version__

__all__ = ["__version__"]
