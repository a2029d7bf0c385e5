"""A Python wrapper over the native C ABI library (ctypes), so that Python and C callers exercise one code path:
``qualedge restore --engine native`` runs through it."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from qualedge.bundle import (
    ABI_VERSION,  # the one ABI version (the C header's QE_ABI_VERSION is checked against it at build)
)
from qualedge.errors import QualedgeError

FORMATS = {(3, np.uint8): 1, (4, np.uint8): 2, (3, np.uint16): 3, (4, np.uint16): 4}
PRECISIONS = {"fp32": 1, "bf16": 2, "int8": 3}
POLICIES = {"adaptive": 0, "compact": 1, "heavy": 2, "random": 3}
RESTORE_MODES = {"unrolled": 0, "loop": 1}


class QeOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("tile", ctypes.c_int32), ("overlap", ctypes.c_int32), ("batch", ctypes.c_int32),
                ("threads", ctypes.c_int32), ("policy", ctypes.c_int32), ("threshold", ctypes.c_float),
                ("heavy_fraction", ctypes.c_float), ("seed", ctypes.c_uint32), ("precision", ctypes.c_int32), ("restore_mode", ctypes.c_int32)]  # fmt: skip


class QeImage(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("width", ctypes.c_int32), ("height", ctypes.c_int32), ("format", ctypes.c_int32),
                ("stride_bytes", ctypes.c_int64), ("data", ctypes.c_void_p)]  # fmt: skip


class QeStats(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("tile_rows", ctypes.c_int32), ("tile_cols", ctypes.c_int32), ("tile_height", ctypes.c_int32),
                ("tile_width", ctypes.c_int32), ("overlap", ctypes.c_int32), ("heavy_tiles", ctypes.c_int32), ("fp32_fallback_tiles", ctypes.c_int32),
                ("seconds_total", ctypes.c_double), ("seconds_routing", ctypes.c_double), ("seconds_inference", ctypes.c_double),
                ("seconds_blend", ctypes.c_double), ("decisions", ctypes.POINTER(ctypes.c_int8)), ("quality", ctypes.POINTER(ctypes.c_float)),
                ("capacity", ctypes.c_int32)]  # fmt: skip


class CAPIError(QualedgeError, RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"qualedge C ABI status {status}: {message}")
        self.status = status


class CRestorer:
    """``CRestorer(lib, bundle).restore(pixels)`` with pixels (H, W, 3|4) uint8/uint16 RGB(A): an SR or a
    restoration bundle, or with ``restore_bundle`` a chain (restoration with ``restore_options``, then SR on ``bundle``)."""

    def __init__(
        self, library: str | Path, bundle: str | Path, *, tile: int = 0, policy: int = 0, batch: int = 4, threads: int = 0,
        heavy_fraction: float | None = None, threshold: float | None = None, seed: int | None = None, overlap: int | None = None,
        precision: str | None = None, restore_mode: str = "loop", restore_bundle: str | Path | None = None,
        restore_options: dict | None = None,
    ) -> None:  # fmt: skip
        self.lib = lib = ctypes.CDLL(str(library))  # CDLL releases the GIL during calls: threads restore concurrently
        lib.qe_last_error.restype = ctypes.c_char_p
        lib.qe_version.restype = ctypes.c_char_p
        lib.qe_abi_version.restype = ctypes.c_uint32
        lib.qe_create.argtypes = [ctypes.c_char_p, ctypes.POINTER(QeOptions), ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)]
        lib.qe_create_chain.argtypes = [ctypes.c_char_p, ctypes.POINTER(QeOptions), ctypes.c_char_p, ctypes.POINTER(QeOptions), ctypes.c_uint32,
                                        ctypes.POINTER(ctypes.c_void_p)]  # fmt: skip
        lib.qe_restore.argtypes = [ctypes.c_void_p, ctypes.POINTER(QeImage), ctypes.POINTER(QeImage)]
        lib.qe_restore_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(QeImage), ctypes.POINTER(QeImage), ctypes.POINTER(QeStats)]
        lib.qe_restore_chain_ex.argtypes = [ctypes.c_void_p, ctypes.POINTER(QeImage), ctypes.POINTER(QeImage), ctypes.POINTER(QeStats), ctypes.POINTER(QeStats)]
        lib.qe_scale.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
        lib.qe_destroy.argtypes = [ctypes.c_void_p]
        opts = self._options(tile=tile, policy=policy, batch=batch, threads=threads, heavy_fraction=heavy_fraction, threshold=threshold, seed=seed,
                             overlap=overlap, precision=precision, restore_mode=restore_mode)  # fmt: skip
        handle = ctypes.c_void_p()
        self.chain = restore_bundle is not None
        if self.chain:
            ropts = self._options(**{"batch": batch, "threads": threads, **(restore_options or {})})
            self._check(lib.qe_create_chain(str(restore_bundle).encode(), ctypes.byref(ropts), str(bundle).encode(), ctypes.byref(opts), ABI_VERSION,
                                            ctypes.byref(handle)))  # fmt: skip
        else:
            self._check(lib.qe_create(str(bundle).encode(), ctypes.byref(opts), ABI_VERSION, ctypes.byref(handle)))
        self.handle = handle
        scale = ctypes.c_int32()
        self._check(lib.qe_scale(self.handle, ctypes.byref(scale)))
        self.scale = scale.value

    def _options(self, *, tile: int = 0, policy: int = 0, batch: int = 4, threads: int = 0, heavy_fraction: float | None = None,
                 threshold: float | None = None, seed: int | None = None, overlap: int | None = None, precision: str | None = None,
                 restore_mode: str = "loop") -> QeOptions:  # fmt: skip
        opts = QeOptions()
        self._check(self.lib.qe_options_init(ctypes.byref(opts)))
        opts.tile, opts.policy, opts.batch, opts.threads = tile, policy, batch, threads
        if heavy_fraction is not None:
            opts.heavy_fraction = heavy_fraction
        if threshold is not None:
            opts.threshold = threshold
        if seed is not None:
            opts.seed = seed
        if overlap is not None:
            opts.overlap = overlap
        if precision is not None:
            if precision not in PRECISIONS:
                raise ValueError(f"precision {precision!r}: the native runtime runs {sorted(PRECISIONS)}")
            opts.precision = PRECISIONS[precision]
        if restore_mode not in RESTORE_MODES:
            raise ValueError(f"restore_mode {restore_mode!r}: one of {sorted(RESTORE_MODES)}")
        opts.restore_mode = RESTORE_MODES[restore_mode]
        return opts

    def _check(self, status: int) -> None:
        if status != 0:
            raise CAPIError(status, (self.lib.qe_last_error() or b"").decode())

    def restore(self, pixels: np.ndarray) -> np.ndarray:
        return self.restore_ex(pixels)[0]

    def restore_ex(self, pixels: np.ndarray, *, max_tiles: int = 1 << 16) -> tuple[np.ndarray, QeStats, np.ndarray, np.ndarray]:
        """(output pixels, stats, decisions, quality); the last two are (tile_rows, tile_cols) arrays (a chain: its
        SR stage's)."""
        out, stats = self._run(pixels, 1, max_tiles)
        return out, *stats[0]

    def restore_chain_ex(self, pixels: np.ndarray, *, max_tiles: int = 1 << 16):
        """A chain's (output, (restoration stats, decisions, quality), (SR stats, decisions, quality))."""
        if not self.chain:
            raise ValueError("restore_chain_ex needs a chain (CRestorer(..., restore_bundle=...))")
        out, stats = self._run(pixels, 2, max_tiles)
        return out, stats[0], stats[1]

    def _run(self, pixels: np.ndarray, n_stats: int, max_tiles: int):
        fmt = FORMATS.get((pixels.shape[2], pixels.dtype.type)) if pixels.ndim == 3 else None
        if fmt is None or pixels.ndim != 3:
            raise ValueError(f"pixels must be (H, W, 3|4) uint8/uint16, got {pixels.dtype} {pixels.shape}")
        src = np.ascontiguousarray(pixels)
        h, w, c = src.shape
        out = np.empty((h * self.scale, w * self.scale, c), src.dtype)
        a = QeImage(ctypes.sizeof(QeImage), w, h, fmt, src.strides[0], src.ctypes.data)
        b = QeImage(ctypes.sizeof(QeImage), w * self.scale, h * self.scale, fmt, out.strides[0], out.ctypes.data)
        bufs = []
        for _ in range(n_stats):
            dec, qual = np.zeros(max_tiles, np.int8), np.full(max_tiles, np.nan, np.float32)
            st = QeStats(struct_size=ctypes.sizeof(QeStats), capacity=max_tiles)
            st.decisions = dec.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
            st.quality = qual.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            bufs.append((st, dec, qual))
        if n_stats == 1:
            self._check(self.lib.qe_restore_ex(self.handle, ctypes.byref(a), ctypes.byref(b), ctypes.byref(bufs[0][0])))
        else:
            self._check(self.lib.qe_restore_chain_ex(self.handle, ctypes.byref(a), ctypes.byref(b), ctypes.byref(bufs[0][0]), ctypes.byref(bufs[1][0])))
        stats = []
        for st, dec, qual in bufs:
            n, shape = st.tile_rows * st.tile_cols, (st.tile_rows, st.tile_cols)
            if n > max_tiles:
                stats.append((st, np.zeros(shape, np.int8), np.full(shape, np.nan, np.float32)))
            else:
                stats.append((st, dec[:n].reshape(shape).copy(), qual[:n].reshape(shape).copy()))
        return out, stats

    def close(self) -> None:
        if getattr(self, "handle", None):
            self.lib.qe_destroy(self.handle)
            self.handle = None

    def __del__(self) -> None:
        self.close()
