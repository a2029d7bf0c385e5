"""Fused overlap blending of tile outputs: NumPy reference, C (CPU, OpenMP) and Triton (CUDA) kernels."""
