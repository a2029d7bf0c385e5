"""qualedge.runtime: tiled, quality-aware inference on bundles; fused blend kernels; the C ABI.

Imports only the core (an edge install ships without training or export code).
"""
