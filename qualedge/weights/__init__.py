"""Weights: loading (safetensors, torch checkpoints, ncnn, TF GraphDef), converters, the cache and the pretrained table.

Nothing here is imported by ``import qualedge``; heavy modules load on use.
"""
