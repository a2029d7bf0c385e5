"""Registered architectures: pure nn.Modules (keyword-only constructors, no I/O) plus typed descriptors."""

from qualedge.archs.descriptor import ArchSpec, ModelDescriptor, SizeRequirements, Tiling
from qualedge.archs.registry import ARCHS, build_model, detect_arch, get_arch, list_archs

__all__ = [
    "ARCHS",
    "ArchSpec",
    "ModelDescriptor",
    "SizeRequirements",
    "Tiling",
    "build_model",
    "detect_arch",
    "get_arch",
    "list_archs",
]
