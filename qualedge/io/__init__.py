"""Image input/output: one canonical in-memory form (float32 RGB in [0, 1], HWC, plus alpha and bit depth).

``read_image`` refuses bad files with an :class:`~qualedge.errors.ImageReadError` that names the file, the problem
and what to do; ``write_image`` writes atomically.
"""

from qualedge.io.formats import FORMATS, SUPPORTED_EXTENSIONS
from qualedge.io.image import Image
from qualedge.io.metadata import PhotoMetadata
from qualedge.io.read import DEFAULT_MAX_PIXELS, read_header, read_image
from qualedge.io.write import encode_image, encode_pixels, metadata_losses, quantize, write_image, write_pixels

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "SUPPORTED_EXTENSIONS",
    "Image",
    "PhotoMetadata",
    "metadata_losses",
    "encode_image",
    "encode_pixels",
    "quantize",
    "read_header",
    "read_image",
    "write_image",
    "write_pixels",
]
