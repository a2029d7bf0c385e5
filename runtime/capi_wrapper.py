"""A Python wrapper over the C ABI library (ctypes), so that Python and C callers exercise one code path."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from qualedge.bundle import (
    ABI_VERSION,  # the one ABI version (the C header's QE_ABI_VERSION is checked against it at build)
)
from qualedge.errors import QualedgeError

FORMATS = {(3, np.uint8): 1, (4, np.uint8): 2, (3, np.uint16): 3, (4, np.uint16): 4}


class QeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("tile", ctypes.c_int32), ("overlap", ctypes.c_int32), ("batch", ctypes.c_int32),
                ("threads", ctypes.c_int32), ("policy", ctypes.c_int32), ("threshold", ctypes.c_float),
                ("heavy_fraction", ctypes.c_float), ("seed", ctypes.c_uint32)]  # fmt: skip


class QeImage(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("width", ctypes.c_int32), ("height", ctypes.c_int32), ("format", ctypes.c_int32),
                ("stride_bytes", ctypes.c_int64), ("data", ctypes.c_void_p)]  # fmt: skip


class CAPIError(QualedgeError, RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"qualedge C ABI status {status}: {message}")
        self.status = status


def _release_cffi_startup_lock() -> None:
    """Let cffi's embedded start-up run inside this (already running) interpreter.

    On CPython < 3.12 cffi's embedding start-up uses ``PyCapsule_Type.tp_version_tag`` as a spin lock and waits for it
    to be 0. Once the interpreter has cached attribute lookups on capsules (importing torch does) the tag is non-zero
    and the first call into the library would spin forever. ``PyType_Modified`` is the public C API that resets a
    type's version tag (it only invalidates the attribute cache), so calling it first is safe.
    """
    import datetime
    import sys

    if sys.version_info < (3, 12):
        ctypes.pythonapi.PyType_Modified(ctypes.py_object(type(datetime.datetime_CAPI)))


class CRestorer:
    """``CRestorer(lib, bundle).restore(pixels)`` with pixels (H, W, 3|4) uint8/uint16 RGB(A)."""

    def __init__(
        self, library: str | Path, bundle: str | Path, *, tile: int = 0, policy: int = 0, batch: int = 4, threads: int = 0,
        heavy_fraction: float | None = None, threshold: float | None = None, seed: int | None = None, overlap: int | None = None,
    ) -> None:  # fmt: skip
        # PyDLL keeps the GIL across calls: inside a running interpreter the embedded code then reuses it directly
        # (with CDLL, cffi's embedded start-up can wait forever for a GIL it cannot see being released)
        _release_cffi_startup_lock()
        self.lib = lib = ctypes.CDLL(str(library))
        lib.qe_last_error.restype = ctypes.c_char_p
        lib.qe_version.restype = ctypes.c_char_p
        lib.qe_abi_version.restype = ctypes.c_uint32
        lib.qe_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(QeOptions), ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
        lib.qe_restore.argtypes = [ctypes.c_void_p, ctypes.POINTER(QeImage), ctypes.POINTER(QeImage)]
        lib.qe_scale.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
        lib.qe_destroy.argtypes = [ctypes.c_void_p]
        opts = QeOptions()
        self._check(lib.qe_options_init(ctypes.byref(opts)))
        opts.tile, opts.policy, opts.batch, opts.threads = tile, policy, batch, threads
        if heavy_fraction is not None:
            opts.heavy_fraction = heavy_fraction
        if threshold is not None:
            opts.threshold = threshold
        if seed is not None:
            opts.seed = seed
        if overlap is not None:
            opts.overlap = overlap
        handle = ctypes.c_void_p()
        self._check(lib.qe_create(str(bundle).encode(), ctypes.byref(opts), ABI_VERSION, ctypes.byref(handle)))
        self.handle = handle
        scale = ctypes.c_int32()
        self._check(lib.qe_scale(self.handle, ctypes.byref(scale)))
        self.scale = scale.value

    def _check(self, status: int) -> None:
        if status != 0:
            raise CAPIError(status, (self.lib.qe_last_error() or b"").decode())

    def restore(self, pixels: np.ndarray) -> np.ndarray:
        fmt = FORMATS.get((pixels.shape[2], pixels.dtype.type))
        if fmt is None or pixels.ndim != 3:
            raise ValueError(f"pixels must be (H, W, 3|4) uint8/uint16, got {pixels.dtype} {pixels.shape}")
        src = np.ascontiguousarray(pixels)
        h, w, c = src.shape
        out = np.empty((h * self.scale, w * self.scale, c), src.dtype)
        a = QeImage(ctypes.sizeof(QeImage), w, h, fmt, src.strides[0], src.ctypes.data)
        b = QeImage(ctypes.sizeof(QeImage), w * self.scale, h * self.scale, fmt, out.strides[0], out.ctypes.data)
        self._check(self.lib.qe_restore(self.handle, ctypes.byref(a), ctypes.byref(b)))
        return out

    def close(self) -> None:
        if getattr(self, "handle", None):
            self.lib.qe_destroy(self.handle)
            self.handle = None

    def __del__(self) -> None:
        self.close()
