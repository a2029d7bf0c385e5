"""qualedge's exceptions. Every one carries a message that says what was wrong and what to do.

They subclass the matching built-in (``ValueError``, ``FileNotFoundError``, ...) so that callers who
catch the built-in still catch them.
"""

from __future__ import annotations


class QualedgeError(Exception):
    """Base class of every error qualedge raises on purpose."""


class ConfigError(QualedgeError, ValueError):
    """A configuration value or command-line option is invalid."""


class ImageReadError(QualedgeError, ValueError):
    """An input image cannot be read: missing, empty, truncated, not an image, unsupported, too large."""


class OutputError(QualedgeError, OSError):
    """An output file cannot be written: its folder is missing or not writable."""


class ImageWriteError(OutputError):
    """An output image cannot be written: folder missing or not writable, unsupported format or depth."""


class UnsupportedModelError(QualedgeError, KeyError):
    """An architecture id or state dict is not one qualedge knows."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsupportedDtypeError(QualedgeError, ValueError):
    """A model was asked to run in a precision that it is not safe in."""


class WeightsError(QualedgeError, ValueError):
    """Weights do not fit the architecture or fail their checksum."""


class WeightsFormatError(WeightsError):
    """A weights file is not in the format its extension or caller claims."""


class WeightsNotFoundError(QualedgeError, FileNotFoundError):
    """A weights file is not where it was looked for (and could not, or may not, be downloaded)."""


class MetricError(QualedgeError, ValueError):
    """An IQA metric is unknown, unavailable offline, or was given unusable input."""


class ExportError(QualedgeError, RuntimeError):
    """An export step failed."""


class ParityError(ExportError):
    """An exported form disagrees with PyTorch beyond its tolerance."""


class BundleError(QualedgeError, ValueError):
    """A bundle is missing, corrupt, from another ABI version, or its files fail their hashes."""


class BackendUnavailableError(QualedgeError, ImportError):
    """An optional backend (TensorRT, onnxruntime-gpu, CUDA) is not installed or not usable here."""


class InferenceError(QualedgeError, RuntimeError):
    """Inference produced unusable output (NaN/Inf) and no fall-back could fix it."""


class TrainingError(QualedgeError, RuntimeError):
    """A training run cannot start or continue (bad data folder, incompatible checkpoint, ...)."""
